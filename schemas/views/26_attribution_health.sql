-- attribution_health: per day of the range (every day, zero-filled), by the day of the event, click, visit or
-- conversion time:
--   events, clock_corrected, clock_clamped, late_events: stored events (distinct event ids) and those whose time
--     was corrected for the device clock, clamped, or that arrived past their app's allowed lateness; *_share
--     are those counts / events (NULL on a day without events).
--   duplicates_absorbed: copies of already stored events dropped by the processor (duplicate_events).
--   ad_clicks, unmatched_clicks: distinct click ids of ad-click webhooks, and those no visit ever carried.
--   click_visits, visits_without_click: visits (touchpoints) carrying a click id, and those whose click id never
--     arrived as an ad-click webhook (at any time).
--   shared_click_visits, reused_click_ids: visits whose click id belongs to another person (shared_click), and
--     the distinct click ids among them.
--   conversions, direct_conversions, direct_share: current conversions, those with no eligible touch (credited to
--     direct under every model), and their share.
CREATE OR REPLACE VIEW attribution_health AS
WITH
days AS (
    SELECT toDate({date_from:Date} + number) AS day
    FROM numbers(toUInt64(greatest(dateDiff('day', {date_from:Date}, {date_to:Date}) + 1, 0)))
),
event_days AS (
    SELECT toDate(event_time) AS day, uniqExact(event_id) AS events,
        uniqExactIf(event_id, clock_corrected = 1) AS clock_corrected,
        uniqExactIf(event_id, clock_clamped = 1) AS clock_clamped,
        uniqExactIf(event_id, arrived_late = 1) AS late_events
    FROM events
    WHERE app_id = {app:String} AND toDate(event_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day
),
duplicate_days AS (
    SELECT toDate(event_time) AS day, uniqExact(_partition, _offset, event_index) AS duplicates_absorbed
    FROM duplicate_events
    WHERE app_id = {app:String} AND toDate(event_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day
),
clicks AS (
    -- A click id counts once, at its first webhook, as in attribution.
    SELECT JSONExtractString(properties, 'click_id') AS click_id, min(event_time) AS click_time
    FROM events
    WHERE app_id = {app:String} AND type = 'ad_click' AND JSONExtractString(properties, 'click_id') != ''
    GROUP BY click_id
),
visits AS (
    SELECT touchpoint_id, argMax(click_id, version) AS click_id, argMax(touch_time, version) AS touch_time,
        argMax(shared_click, version) AS shared_click
    FROM touchpoints
    WHERE app_id = {app:String}
    GROUP BY touchpoint_id
    HAVING click_id != ''
),
click_days AS (
    SELECT toDate(click_time) AS day, count() AS ad_clicks,
        countIf(click_id NOT IN (SELECT click_id FROM visits)) AS unmatched_clicks
    FROM clicks
    WHERE toDate(click_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day
),
visit_days AS (
    SELECT toDate(touch_time) AS day, count() AS click_visits,
        countIf(click_id NOT IN (SELECT click_id FROM clicks)) AS visits_without_click,
        countIf(shared_click = 1) AS shared_click_visits,
        uniqExactIf(click_id, shared_click = 1) AS reused_click_ids
    FROM visits
    WHERE toDate(touch_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day
),
conversion_days AS (
    SELECT toDate(conversion_time) AS day, count() AS conversions, countIf(touch_count = 0) AS direct_conversions
    FROM conversions_current
    WHERE app_id = {app:String} AND toDate(conversion_time) BETWEEN {date_from:Date} AND {date_to:Date}
    GROUP BY day
)
SELECT
    d.day AS day,
    e.events AS events,
    e.clock_corrected AS clock_corrected,
    if(e.events > 0, e.clock_corrected / e.events, NULL) AS clock_corrected_share,
    e.clock_clamped AS clock_clamped,
    if(e.events > 0, e.clock_clamped / e.events, NULL) AS clock_clamped_share,
    e.late_events AS late_events,
    if(e.events > 0, e.late_events / e.events, NULL) AS late_share,
    dup.duplicates_absorbed AS duplicates_absorbed,
    c.ad_clicks AS ad_clicks,
    c.unmatched_clicks AS unmatched_clicks,
    v.click_visits AS click_visits,
    v.visits_without_click AS visits_without_click,
    v.shared_click_visits AS shared_click_visits,
    v.reused_click_ids AS reused_click_ids,
    conv.conversions AS conversions,
    conv.direct_conversions AS direct_conversions,
    if(conv.conversions > 0, conv.direct_conversions / conv.conversions, NULL) AS direct_share
FROM days AS d
LEFT JOIN event_days AS e ON e.day = d.day
LEFT JOIN duplicate_days AS dup ON dup.day = d.day
LEFT JOIN click_days AS c ON c.day = d.day
LEFT JOIN visit_days AS v ON v.day = d.day
LEFT JOIN conversion_days AS conv ON conv.day = d.day
ORDER BY day;
