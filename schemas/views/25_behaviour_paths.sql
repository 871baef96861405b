-- behaviour_paths: what people did before their first order. People whose first order (order_history's
-- 'convert', whatever type the client sent) is on a day in the range; their path is the labels of all their
-- earlier events (exposures left out, and orders: another order at the first one's millisecond is not a step
-- towards it), consecutive repeats collapsed to one, the last max_steps kept, then 'convert'.
CREATE OR REPLACE VIEW behaviour_paths AS
WITH
    first_orders AS
    (
        SELECT user_key, (event_time, event_id) AS first_order
        FROM order_history(app={app:String})
        WHERE kind = 'convert' AND toDate(event_time) BETWEEN {date_from:Date} AND {date_to:Date}
    ),
    journeys AS
    (
        SELECT user_key, arrayMap(x -> x.3, arraySort(groupArray((event_time, event_id, label)))) AS labels
        FROM
        (
            SELECT
                e.user_key AS user_key, e.event_time AS event_time, e.event_id AS event_id,
                multiIf(e.type = 'page_view' AND e.path != '', 'page_view:' || e.path,
                    e.type = 'custom' AND e.name != '', 'custom:' || e.name,
                    toString(e.type)) AS label
            FROM events_people AS e
            INNER JOIN first_orders AS o ON o.user_key = e.user_key
            WHERE e.app_id = {app:String} AND e.day <= {date_to:Date}
                AND e.type != 'exposure' AND e.type NOT IN ('convert', 'repurchase')
                AND (e.event_time, e.event_id) < o.first_order
        )
        GROUP BY user_key
    ),
    collapsed AS
    (
        SELECT
            o.user_key AS user_key,
            arrayFilter((x, i) -> i = 1 OR x != j.labels[i - 1], j.labels, arrayEnumerate(j.labels)) AS steps
        FROM first_orders AS o
        LEFT JOIN journeys AS j ON j.user_key = o.user_key
    )
SELECT
    arrayPushBack(arraySlice(steps, greatest(1, toInt64(length(steps)) - {max_steps:UInt8} + 1)), 'convert') AS path,
    arrayStringConcat(path, ' > ') AS path_text,
    count() AS users
FROM collapsed
GROUP BY path
ORDER BY users DESC, path_text;
