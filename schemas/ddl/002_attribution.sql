-- The analyst contract of attribution (docs/attribution.md). Every table is append-only and versioned:
-- a re-attribution (late touchpoint, late ad click, identity merge) writes new rows with a higher version,
-- and the *_current views show only the newest. `_partition`/`_offset` name the source Kafka record, from
-- which the stream processor rebuilds its state below its committed offset.

CREATE TABLE IF NOT EXISTS identities
(
    app_id     LowCardinality(String),
    typed_id   String,
    user_key   String,
    first_seen DateTime64(3, 'UTC'),
    version    UInt64,
    _partition UInt16,
    _offset    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, typed_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS touchpoints
(
    app_id         LowCardinality(String),
    touchpoint_id  String,
    identity       String,
    anonymous_id   String,
    user_key       String,
    touch_time     DateTime64(3, 'UTC'),
    kind           LowCardinality(String),
    source         LowCardinality(String),
    channel_type   LowCardinality(String),
    channel        LowCardinality(String),
    campaign       String,
    creative       String,
    click_id       String,
    click_platform LowCardinality(String),
    signal         LowCardinality(String),
    scene          UInt16,
    matched_click  UInt8,
    version        UInt64,
    _partition     UInt16,
    _offset        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(touch_time)
ORDER BY (app_id, touchpoint_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS conversions
(
    app_id          LowCardinality(String),
    conversion_id   String,
    event_id        String,
    identity        String,
    user_key        String,
    conversion_type LowCardinality(String),
    conversion_time DateTime64(3, 'UTC'),
    order_id        String,
    revenue         Decimal(18, 4),
    currency        LowCardinality(String),
    touch_count     UInt32,
    version         UInt64,
    deleted         UInt8,
    _partition      UInt16,
    _offset         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(conversion_time)
ORDER BY (app_id, conversion_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS attribution_credits
(
    app_id          LowCardinality(String),
    conversion_id   String,
    conversion_type LowCardinality(String),
    conversion_time DateTime64(3, 'UTC'),
    user_key        String,
    model           LowCardinality(String),
    touchpoint_id   String,
    touch_time      Nullable(DateTime64(3, 'UTC')),
    touch_index     UInt32,
    touch_count     UInt32,
    channel_type    LowCardinality(String),
    channel         LowCardinality(String),
    campaign        String,
    creative        String,
    credit          Float64,
    revenue_credit  Decimal(18, 4),
    currency        LowCardinality(String),
    version         UInt64,
    deleted         UInt8,
    _partition      UInt16,
    _offset         UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(conversion_time)
ORDER BY (app_id, conversion_id, version, model, touch_index)
SETTINGS non_replicated_deduplication_window = 10000;

-- Current rows only. The credits of one conversion are always rewritten whole, for every model, at one
-- version, so "the newest version of the conversion" is the complete current set; tombstones remove it.
CREATE VIEW IF NOT EXISTS attribution_credits_current AS
SELECT c.*
FROM attribution_credits AS c
INNER JOIN
(
    SELECT app_id, conversion_id, max(version) AS current_version
    FROM attribution_credits
    GROUP BY app_id, conversion_id
) AS latest
ON c.app_id = latest.app_id AND c.conversion_id = latest.conversion_id AND c.version = latest.current_version
WHERE c.deleted = 0;

CREATE VIEW IF NOT EXISTS conversions_current AS
SELECT
    app_id, conversion_id,
    argMax(event_id, version) AS event_id,
    argMax(user_key, version) AS user_key,
    argMax(conversion_type, version) AS conversion_type,
    argMax(conversion_time, version) AS conversion_time,
    argMax(order_id, version) AS order_id,
    argMax(revenue, version) AS revenue,
    argMax(currency, version) AS currency,
    argMax(touch_count, version) AS touch_count,
    max(version) AS current_version
FROM conversions
GROUP BY app_id, conversion_id
HAVING argMax(deleted, version) = 0;

CREATE VIEW IF NOT EXISTS identities_current AS
SELECT app_id, typed_id, argMax(user_key, version) AS user_key, min(first_seen) AS first_seen
FROM identities
GROUP BY app_id, typed_id;

CREATE VIEW IF NOT EXISTS touchpoints_current AS
SELECT
    t.app_id AS app_id, t.touchpoint_id AS touchpoint_id, t.anonymous_id AS anonymous_id,
    if(i.user_key = '', t.user_key, i.user_key) AS user_key,
    t.touch_time AS touch_time, t.kind AS kind, t.source AS source, t.channel_type AS channel_type,
    t.channel AS channel, t.campaign AS campaign, t.creative AS creative, t.click_id AS click_id,
    t.click_platform AS click_platform, t.signal AS signal, t.scene AS scene, t.matched_click AS matched_click
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
        argMax(matched_click, version) AS matched_click
    FROM touchpoints
    GROUP BY app_id, touchpoint_id
) AS t
LEFT JOIN identities_current AS i ON i.app_id = t.app_id AND i.typed_id = t.identity;
