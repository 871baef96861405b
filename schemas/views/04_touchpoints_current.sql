-- A view keeps the column types it was created with, so every view that reads `scene` is created again:
-- touchpoints_current as 009_lateness_shared_clicks.sql left it, events_people as 004_people.sql made it.
-- events_people also computes an event's person the way the processor does (stream/journeys/identity.py
-- `ids_of`, `platform_id_prefix_sql`): a non-WeChat openid or unionid carries its platform, `openid@douyin:…`.
CREATE OR REPLACE VIEW touchpoints_current AS
SELECT
    t.app_id AS app_id, t.touchpoint_id AS touchpoint_id, t.anonymous_id AS anonymous_id,
    if(i.user_key = '', t.user_key, i.user_key) AS user_key,
    t.touch_time AS touch_time, t.kind AS kind, t.source AS source, t.channel_type AS channel_type,
    t.channel AS channel, t.campaign AS campaign, t.creative AS creative, t.click_id AS click_id,
    t.click_platform AS click_platform, t.signal AS signal, t.scene AS scene, t.matched_click AS matched_click,
    t.shared_click AS shared_click
FROM
(
    SELECT app_id, touchpoint_id,
        argMax(identity, version) AS identity, argMax(anonymous_id, version) AS anonymous_id,
        argMax(user_key, version) AS user_key, argMax(touch_time, version) AS touch_time,
        argMax(kind, version) AS kind, argMax(source, version) AS source,
        argMax(channel_type, version) AS channel_type, argMax(channel, version) AS channel,
        argMax(campaign, version) AS campaign, argMax(creative, version) AS creative,
        argMax(click_id, version) AS click_id, argMax(click_platform, version) AS click_platform,
        argMax(signal, version) AS signal, argMax(scene, version) AS scene,
        argMax(matched_click, version) AS matched_click, argMax(shared_click, version) AS shared_click
    FROM touchpoints
    GROUP BY app_id, touchpoint_id
) AS t
LEFT JOIN identities_current AS i ON i.app_id = t.app_id AND i.typed_id = t.identity;
