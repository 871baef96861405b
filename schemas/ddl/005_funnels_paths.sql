-- Funnel and path analytics (docs/queries.md, "Funnels and paths"). Parameterized views: every one takes
-- app, date_from, date_to (inclusive UTC days). They read only events_people and the *_current views, so a
-- re-attribution or an identity merge shows up in them at once and nothing is counted twice.
--
-- Shared definitions:
-- * A person's channel is the channel of their first touchpoint (touchpoints_current, by touch_time, ties by
--   touchpoint_id) on a day in the range, else 'direct': the channel that opened the period's journey, one
--   per person, so the channel rows of a view add up to its 'all' rows.
-- * A step label is the event type, 'page_view:<path>' for a page view with a path (a page view without one
--   is 'page_view') and 'custom:<name>' for a custom event: the level at which an analyst names a screen or
--   an action.

-- lifecycle_funnel: how many people went exposure > click > enter > register > activate > convert >
-- repurchase, in that order, within window_s seconds of their exposure, overall and by channel.
-- A person enters with an exposure on a day in the range, later steps count up to window_s seconds after that
-- exposure (bound inclusive, so a funnel started on date_to may finish after it). windowFunnel with
-- 'strict_once' keeps the longest chain, events of one millisecond in step order. Every step row is present
-- for 'all' and each channel, with users 0 where nobody got that far.
-- This body is what stream/reports/funnel_sql.py builds for the lifecycle steps (a unit test checks it
-- character for character): regenerate it from lifecycle_view_body(), never edit one side alone.
CREATE VIEW IF NOT EXISTS lifecycle_funnel AS
WITH
    entrants AS
    (
        SELECT
            user_key,
            windowFunnel({window_s:UInt32} * 1000, 'strict_once')(
                toUInt64(toUnixTimestamp64Milli(event_time)),
                (type = 'exposure') AND day BETWEEN {date_from:Date} AND {date_to:Date},
                type = 'click',
                type = 'enter',
                type = 'register',
                type = 'activate',
                type = 'convert',
                type = 'repurchase'
            ) AS level
        FROM events_people
        WHERE app_id = {app:String}
            AND day >= {date_from:Date}
            AND event_time < toDateTime64(addDays({date_to:Date}, 1), 3, 'UTC') + toIntervalSecond({window_s:UInt32})
            AND type IN ('activate', 'click', 'convert', 'enter', 'exposure', 'register', 'repurchase')
        GROUP BY user_key
        HAVING level > 0
    ),
    first_touch AS
    (
        SELECT user_key, toString(argMin(channel, (touch_time, touchpoint_id))) AS channel
        FROM touchpoints_current
        WHERE app_id = {app:String} AND toDate(touch_time) BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY user_key
    ),
    tagged AS
    (
        SELECT arrayJoin(['all', if(f.channel = '', 'direct', f.channel)]) AS channel, e.level AS level
        FROM entrants AS e
        LEFT JOIN first_touch AS f ON f.user_key = e.user_key
        UNION ALL
        SELECT 'all' AS channel, toUInt8(0) AS level
    ),
    reached AS
    (
        SELECT
            channel,
            [
                countIf(level >= 1),
                countIf(level >= 2),
                countIf(level >= 3),
                countIf(level >= 4),
                countIf(level >= 5),
                countIf(level >= 6),
                countIf(level >= 7)
            ] AS users_by_step
        FROM tagged
        GROUP BY channel
    )
SELECT
    toString(channel) AS channel,
    toUInt8(i) AS step_index,
    ['exposure', 'click', 'enter', 'register', 'activate', 'convert', 'repurchase'][i] AS step,
    users_by_step[i] AS users,
    if(i = 1 OR users_by_step[greatest(i - 1, 1)] = 0, NULL, users / users_by_step[greatest(i - 1, 1)]) AS step_conversion,
    if(users_by_step[1] = 0, NULL, users / users_by_step[1]) AS overall_conversion,
    toUInt64(if(i = 1, 0, users_by_step[greatest(i - 1, 1)] - users)) AS drop_off
FROM reached
ARRAY JOIN arrayEnumerate(users_by_step) AS i
ORDER BY channel, step_index;

-- conversion_paths: which sequences of channels lead to conversions. For each current conversion whose
-- conversion_time is on a day in the range (one row per path and conversion type), the channels of its credited touchpoints in
-- touch_index order, read from the linear model (the model that credits every eligible touchpoint), so the
-- path is the touchpoints attribution actually considered, after re-attribution. A conversion with no
-- eligible touchpoint has the single path ['direct']. Revenue is the conversions' own revenue, not a credit.
-- A conversion without linear rows (its credits not written yet) is left out rather than guessed as direct.
CREATE VIEW IF NOT EXISTS conversion_paths AS
WITH
    converted AS
    (
        SELECT conversion_id, conversion_type, revenue
        FROM conversions_current
        WHERE app_id = {app:String}
            AND toDate(conversion_time) BETWEEN {date_from:Date} AND {date_to:Date}
    ),
    paths AS
    (
        SELECT conversion_id, arrayMap(x -> x.2, arraySort(groupArray((touch_index, toString(channel))))) AS path
        FROM attribution_credits_current
        WHERE app_id = {app:String} AND model = 'linear'
            AND conversion_id IN (SELECT conversion_id FROM converted)
        GROUP BY conversion_id
    )
SELECT
    p.path AS path,
    arrayStringConcat(p.path, ' > ') AS path_text,
    count() AS conversions,
    toFloat64(sum(c.revenue)) AS revenue,
    p.path[1] AS first_channel,
    p.path[-1] AS last_channel,
    toUInt32(length(p.path)) AS touch_count,
    CAST(c.conversion_type AS String) AS conversion_type
FROM converted AS c
INNER JOIN paths AS p ON p.conversion_id = c.conversion_id
GROUP BY p.path, c.conversion_type
ORDER BY conversions DESC, path_text, conversion_type;

-- exit_points: where the journeys of the people who did not buy stopped. People with at least one event other
-- than an exposure in the range and no convert or repurchase event in it; their exit step is the label of
-- their last such event in the range (by event_time, ties by the greater event_id). Exposures are left out
-- because they are shown to people, not done by them. share = users / the channel's non-buyers.
CREATE VIEW IF NOT EXISTS exit_points AS
WITH
    leavers AS
    (
        SELECT user_key, argMax(label, (event_time, event_id)) AS step
        FROM
        (
            SELECT
                user_key, event_time, event_id, type,
                multiIf(type = 'page_view' AND path != '', 'page_view:' || path,
                    type = 'custom' AND name != '', 'custom:' || name,
                    toString(type)) AS label
            FROM events_people
            WHERE app_id = {app:String} AND day BETWEEN {date_from:Date} AND {date_to:Date}
                AND type != 'exposure'
        )
        GROUP BY user_key
        HAVING countIf(type IN ('convert', 'repurchase')) = 0
    ),
    first_touch AS
    (
        SELECT user_key, toString(argMin(channel, (touch_time, touchpoint_id))) AS channel
        FROM touchpoints_current
        WHERE app_id = {app:String} AND toDate(touch_time) BETWEEN {date_from:Date} AND {date_to:Date}
        GROUP BY user_key
    ),
    tagged AS
    (
        SELECT arrayJoin(['all', if(f.channel = '', 'direct', f.channel)]) AS channel, l.step AS step
        FROM leavers AS l
        LEFT JOIN first_touch AS f ON f.user_key = l.user_key
    )
SELECT
    toString(channel) AS channel,
    step,
    count() AS users,
    users / sum(count()) OVER (PARTITION BY channel) AS share
FROM tagged
GROUP BY channel, step
ORDER BY channel, users DESC, step;

-- behaviour_paths: what people did before their first order. People whose first convert event ever (by
-- event_time, ties by event_id) is on a day in the range; their path is the labels of all their earlier events
-- (exposures left out), consecutive repeats collapsed to one, the last max_steps kept, then 'convert'. The
-- order is the client's convert event, so the path is read from the same event stream as its steps.
CREATE VIEW IF NOT EXISTS behaviour_paths AS
WITH
    first_orders AS
    (
        SELECT user_key, min((event_time, event_id)) AS first_order
        FROM events_people
        WHERE app_id = {app:String} AND type = 'convert'
        GROUP BY user_key
        HAVING toDate(first_order.1) BETWEEN {date_from:Date} AND {date_to:Date}
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
            WHERE e.app_id = {app:String} AND e.day <= {date_to:Date} AND e.type != 'exposure'
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
