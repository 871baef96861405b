-- exit_points: where the journeys of the people who did not buy stopped. People with at least one event other
-- than an exposure in the range and no convert or repurchase event in it (an order of either type: no order
-- history needed); their exit step is the label of their last such event in the range (by event_time, ties by
-- the greater event_id). Exposures are left out because they are shown to people, not done by them.
-- share = users / the channel's non-buyers.
CREATE OR REPLACE VIEW exit_points AS
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
    tagged AS
    (
        SELECT arrayJoin(['all', if(f.channel = '', 'direct', f.channel)]) AS channel, l.step AS step
        FROM leavers AS l
        LEFT JOIN first_touch_channels(app={app:String}, date_from={date_from:Date}, date_to={date_to:Date}) AS f
            ON f.user_key = l.user_key
    )
SELECT
    toString(channel) AS channel,
    step,
    count() AS users,
    users / sum(count()) OVER (PARTITION BY channel) AS share
FROM tagged
GROUP BY channel, step
ORDER BY channel, users DESC, step;
