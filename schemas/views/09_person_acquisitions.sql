-- A person's acquisition: their first current conversion of type `acquisition` ('register' or 'convert'),
-- by conversion time, ties broken by conversion_id so the answer never depends on the scan order.
CREATE OR REPLACE VIEW person_acquisitions AS
SELECT
    c.user_key AS user_key,
    argMin(c.conversion_id, (c.conversion_time, c.conversion_id)) AS conversion_id,
    min(c.conversion_time) AS conversion_time,
    toDate(min(c.conversion_time)) AS day
FROM person_conversions(app = {app:String}) AS c
WHERE c.conversion_type = {acquisition:String}
GROUP BY c.user_key;
