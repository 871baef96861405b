-- Building blocks of the analytics views (docs/queries.md): every event with the person it belongs to, and
-- the channel catalog (the processor writes the taxonomy it runs with at start, so spend on a channel that
-- had no conversions still shows its channel type).

-- The person of an event is the owner of its strongest id (uid > unionid > openid > phone > anon), the same
-- rule the stream processor uses, looked up in the current identity graph so merges apply retroactively.
-- Ad-platform touches (no device id) have no person and are left out.
CREATE VIEW IF NOT EXISTS events_people AS
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
        multiIf(user_id != '', 'uid:' || user_id, unionid != '', 'unionid:' || unionid,
                openid != '', 'openid:' || openid, phone_hash != '', 'phone:' || phone_hash,
                'anon:' || anonymous_id) AS strongest_id
    FROM events
    WHERE anonymous_id != '' OR user_id != '' OR openid != '' OR unionid != ''
) AS e
LEFT JOIN identities_current AS i ON i.app_id = e.app_id AND i.typed_id = e.strongest_id;

CREATE TABLE IF NOT EXISTS channel_catalog
(
    channel          LowCardinality(String),
    channel_type     LowCardinality(String),
    name             String,
    taxonomy_version UInt32
)
ENGINE = ReplacingMergeTree(taxonomy_version)
ORDER BY channel;
