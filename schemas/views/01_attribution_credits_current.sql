-- Current rows only. The credits of one conversion are always rewritten whole, for every model, at one
-- version, so "the newest version of the conversion" is the complete current set; tombstones remove it.
CREATE OR REPLACE VIEW attribution_credits_current AS
SELECT c.*
FROM attribution_credits AS c
INNER JOIN
(
    SELECT app_id, conversion_id, max(version) AS current_version
    FROM attribution_credits
    GROUP BY app_id, conversion_id
) AS latest
ON c.app_id = latest.app_id AND c.conversion_id = latest.conversion_id AND c.version = latest.current_version
WHERE c.deleted = 0;
