-- Every current conversion of an app with the person it belongs to *now*. A conversion that became final
-- before a later identity merge keeps the user_key it was written with, while events_people follows the
-- merge. Re-reading the person from the conversion's own event keeps conversions and activity on one key
-- (the stored user_key is the fallback when the event is not in events_people). `revenue` is net of refunds,
-- so RFM's monetary value and the sharers' revenue are what the orders kept.
CREATE OR REPLACE VIEW person_conversions AS
SELECT
    c.conversion_id AS conversion_id,
    c.conversion_type AS conversion_type,
    c.conversion_time AS conversion_time,
    toDate(c.conversion_time) AS day,
    c.order_id AS order_id,
    toFloat64(c.net_revenue) AS revenue,
    c.currency AS currency,
    coalesce(nullIf(e.user_key, ''), c.user_key) AS user_key
FROM
(
    SELECT conversion_id, event_id, user_key, conversion_type, conversion_time, order_id, net_revenue, currency
    FROM conversions_current
    WHERE app_id = {app:String}
) AS c
LEFT JOIN
(
    SELECT event_id, any(user_key) AS user_key
    FROM events_people
    WHERE app_id = {app:String}
      AND event_id IN (SELECT event_id FROM conversions_current WHERE app_id = {app:String})
    GROUP BY event_id
) AS e ON e.event_id = c.event_id;
