-- Every accepted event, once. ORDER BY (app_id, event_id) plus ReplacingMergeTree is the second line of
-- defence against duplicates; the first is the stream processor's event-id dedup and deterministic insert
-- tokens (non_replicated_deduplication_window). Partitioned by the device timestamp, which a client retry
-- repeats exactly, so replicas of one event always meet in the same partition.
CREATE TABLE IF NOT EXISTS events
(
    app_id          LowCardinality(String),
    event_id        String,
    type            LowCardinality(String),
    name            String,
    event_time      DateTime64(3, 'UTC'),
    timestamp       DateTime64(3, 'UTC'),
    sent_at         Nullable(DateTime64(3, 'UTC')),
    received_at     DateTime64(3, 'UTC'),
    anonymous_id    String,
    user_id         String,
    openid          String,
    unionid         String,
    phone_hash      String,
    platform        LowCardinality(String),
    app_version     String,
    scene           UInt16,
    path            String,
    query           Map(String, String),
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_content     String,
    utm_term        String,
    share_from      String,
    share_depth     Nullable(UInt8),
    order_id        String,
    revenue         Nullable(Decimal(18, 4)),
    currency        LowCardinality(String),
    properties      String,
    context         String,
    ip              String,
    user_agent      String,
    clock_corrected UInt8,
    clock_clamped   UInt8,
    _partition      UInt16,
    _offset         UInt64,
    _inserted_at    DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (app_id, event_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Events the collector or the processor could not accept, with the reason: never silently dropped.
CREATE TABLE IF NOT EXISTS bad_events
(
    app_id       LowCardinality(String),
    source       LowCardinality(String),
    stage        LowCardinality(String),
    received_at  DateTime64(3, 'UTC'),
    code         LowCardinality(String),
    reason       String,
    payload      String,
    ip           String,
    user_agent   String,
    _partition   UInt16,
    _offset      UInt64,
    _inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (app_id, received_at)
SETTINGS non_replicated_deduplication_window = 10000;
