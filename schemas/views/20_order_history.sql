-- order_history: every order of the app once, with its kind by the order history, as attribution decides it
-- (stream/journeys/engine.py): an order is its order id (a purchase without one, its event), at its earliest
-- event (by event_time, ties by event_id); a person's earliest order (by time, ties by the order's id) is
-- 'convert', every other one 'repurchase', whatever type the client sent.
CREATE OR REPLACE VIEW order_history AS
SELECT
    user_key,
    conversion_id,
    event_id,
    event_time,
    if((event_time, conversion_id) = min((event_time, conversion_id)) OVER (PARTITION BY user_key),
        'convert', 'repurchase') AS kind
FROM
(
    SELECT
        if(e.order_id != '', 'order:' || e.order_id, toString(e.type) || ':' || e.event_id) AS conversion_id,
        min((e.event_time, e.event_id, e.user_key)) AS first_event,
        first_event.1 AS event_time,
        first_event.2 AS event_id,
        first_event.3 AS user_key
    FROM events_people AS e
    WHERE e.app_id = {app:String} AND e.type IN ('convert', 'repurchase')
    GROUP BY conversion_id
);
