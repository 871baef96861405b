CREATE OR REPLACE VIEW identities_current AS
SELECT app_id, typed_id, argMax(user_key, version) AS user_key, min(first_seen) AS first_seen
FROM identities
GROUP BY app_id, typed_id;
