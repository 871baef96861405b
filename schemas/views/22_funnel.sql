-- funnel: how many people went through steps (2 to 12 labels, `type` or `type:name`, validated by
-- stream/reports/funnel_sql.py) in that order within window_s seconds of their first step, overall and by
-- channel. A person enters with a step-1 event on a day in the range; later steps count up to window_s seconds
-- after it (bound inclusive, so a funnel started on date_to may finish after it). windowFunnel with
-- 'strict_once' keeps the longest chain and never lets one event fill two steps; events of one millisecond are
-- taken in step order. A step matches an event's type or its label; convert and repurchase are the kinds of
-- order_history, not the client's types. windowFunnel takes a fixed list of conditions: matched[k] of a step
-- past the last is 0, so those are never true. Every step row is present for 'all' and each channel.
CREATE OR REPLACE VIEW funnel AS
WITH
    step_events AS
    (
        SELECT
            user_key,
            event_time,
            arrayMap(s -> toUInt8(s = type OR s = label), {steps:Array(String)}) AS matched
        FROM
        (
            SELECT
                user_key, event_time, toString(type) AS type,
                multiIf(type = 'page_view' AND path != '', 'page_view:' || path,
                    type = 'custom' AND name != '', 'custom:' || name,
                    toString(type)) AS label
            FROM events_people
            WHERE app_id = {app:String}
                AND type NOT IN ('convert', 'repurchase')
                AND has(arrayMap(s -> splitByChar(':', s)[1], {steps:Array(String)}), toString(type))
            UNION ALL
            SELECT user_key, event_time, kind AS type, kind AS label
            FROM order_history(app={app:String})
            WHERE has({steps:Array(String)}, kind)
        )
        WHERE toDate(event_time) >= {date_from:Date}
            AND event_time < toDateTime64(addDays({date_to:Date}, 1), 3, 'UTC') + toIntervalSecond({window_s:UInt32})
    ),
    entrants AS
    (
        SELECT
            user_key,
            windowFunnel({window_s:UInt32} * 1000, 'strict_once')(
                toUInt64(toUnixTimestamp64Milli(event_time)),
                matched[1] = 1 AND toDate(event_time) BETWEEN {date_from:Date} AND {date_to:Date},
                matched[2] = 1, matched[3] = 1, matched[4] = 1, matched[5] = 1, matched[6] = 1,
                matched[7] = 1, matched[8] = 1, matched[9] = 1, matched[10] = 1, matched[11] = 1, matched[12] = 1
            ) AS level
        FROM step_events
        GROUP BY user_key
        HAVING level > 0
    ),
    tagged AS
    (
        SELECT arrayJoin(['all', if(f.channel = '', 'direct', f.channel)]) AS channel, e.level AS level
        FROM entrants AS e
        LEFT JOIN first_touch_channels(app={app:String}, date_from={date_from:Date}, date_to={date_to:Date}) AS f
            ON f.user_key = e.user_key
        UNION ALL
        SELECT 'all' AS channel, toUInt8(0) AS level
    ),
    reached AS
    (
        -- users_by_step[k]: the people who reached step k or further
        SELECT channel, sumForEach(arrayMap(k -> toUInt64(level >= k), arrayEnumerate({steps:Array(String)}))) AS users_by_step
        FROM tagged
        GROUP BY channel
    )
SELECT
    toString(channel) AS channel,
    toUInt8(i) AS step_index,
    {steps:Array(String)}[i] AS step,
    users_by_step[i] AS users,
    if(i = 1 OR users_by_step[greatest(i - 1, 1)] = 0, NULL, users / users_by_step[greatest(i - 1, 1)]) AS step_conversion,
    if(users_by_step[1] = 0, NULL, users / users_by_step[1]) AS overall_conversion,
    toUInt64(if(i = 1, 0, users_by_step[greatest(i - 1, 1)] - users)) AS drop_off
FROM reached
ARRAY JOIN arrayEnumerate(users_by_step) AS i
WHERE throwIf(length({steps:Array(String)}) > 12, 'a funnel has at most 12 steps') = 0
ORDER BY channel, step_index;
