-- The person of an event is the owner of its strongest id (uid > unionid > openid > phone > anon), the same
-- rule the stream processor uses, looked up in the current identity graph so merges apply retroactively. A
-- non-WeChat openid or unionid carries its platform (`openid@douyin:…`, stream/journeys/identity.py
-- `platform_id_prefix_sql`).
-- Ad-platform touches (no device id) have no person and are left out.
CREATE OR REPLACE VIEW events_people AS
SELECT
    e.app_id AS app_id, e.event_id AS event_id, e.type AS type, e.name AS name, e.event_time AS event_time,
    toDate(e.event_time) AS day, e.anonymous_id AS anonymous_id, e.path AS path, e.scene AS scene,
    -- A share visit may carry the sharer only in the launch query (the taxonomy's default share parameter).
    if(e.share_from != '', e.share_from, e.query['share_from']) AS share_from, e.share_depth AS share_depth, e.order_id AS order_id, e.revenue AS revenue,
    e.currency AS currency, e.properties AS properties,
    if(i.user_key = '', 'anon:' || e.anonymous_id, i.user_key) AS user_key
FROM
(
    SELECT *,
        multiIf(user_id != '', 'uid:' || user_id,
                unionid != '', if(platform IN ('', 'wechat'), 'unionid:', 'unionid@' || platform || ':') || unionid,
                openid != '', if(platform IN ('', 'wechat'), 'openid:', 'openid@' || platform || ':') || openid,
                phone_hash != '', 'phone:' || phone_hash,
                'anon:' || anonymous_id) AS strongest_id
    FROM events
    WHERE anonymous_id != '' OR user_id != '' OR openid != '' OR unionid != ''
) AS e
LEFT JOIN identities_current AS i ON i.app_id = e.app_id AND i.typed_id = e.strongest_id;
