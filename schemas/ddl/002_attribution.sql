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

-- The views of this migration are in schemas/views/ (created again at every start).
