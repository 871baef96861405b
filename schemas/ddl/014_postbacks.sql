-- Conversion postbacks (docs/postbacks.md). `postback_intents` is the outbox: the stream processor writes an
-- intent in the same flush as the credits that decided it, with the flush's insert token, keyed by its stable
-- `intent_id` (app, integration, conversion, action type), so a replayed flush writes the same keys again.
-- Later rows of the same intent (a higher version) only change `state` (open | cancelled: the conversion was
-- tombstoned) or set `reattributed` (the conversion's last touch is no longer this click); what is sent is
-- fixed by the first row. Read the newest row per intent (argMax by version).
CREATE TABLE IF NOT EXISTS postback_intents
(
    app_id          LowCardinality(String),
    intent_id       String,
    integration_id  LowCardinality(String),
    platform        LowCardinality(String),
    mode            LowCardinality(String),
    action_type     LowCardinality(String),
    conversion_id   String,
    event_id        String,
    conversion_type LowCardinality(String),
    conversion_time DateTime64(3, 'UTC'),
    click_id        String,
    click_time      DateTime64(3, 'UTC'),
    callback        String,
    openid          String,
    unionid         String,
    revenue         Decimal(18, 4),
    currency        LowCardinality(String),
    value_fen       Nullable(Int64),
    state           LowCardinality(String),
    reattributed    UInt8,
    version         UInt64,
    decided_at      DateTime64(3, 'UTC'),
    _partition      UInt16,
    _offset         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(conversion_time)
ORDER BY (app_id, intent_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Every attempt of the worker (`touchstream postbacks`), recorded through the stream processor before and after
-- each send: `sending` (about to send; a row left as the newest after a crash means the outcome is unknown),
-- then the outcome: success | retriable | failed | dead; and rows written without sending: cancelled (the
-- conversion was tombstoned first), unknown (a crash between send and record, not resent), requeued
-- (`touchstream postbacks retry`). `seq` orders an intent's rows; `attempt` counts the sends so far. Never a
-- token: the message is the platform's, at most 500 characters. Keyed by (app, intent, seq): a re-posted
-- record writes the same key.
CREATE TABLE IF NOT EXISTS postback_attempts
(
    app_id          LowCardinality(String),
    intent_id       String,
    seq             UInt32,
    attempt         UInt32,
    integration_id  LowCardinality(String),
    platform        LowCardinality(String),
    status          LowCardinality(String),
    http_status     UInt16,
    code            Nullable(Int64),
    message         String,
    latency_ms      Float64,
    at              DateTime64(3, 'UTC'),
    next_attempt_at Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (app_id, intent_id, seq)
SETTINGS non_replicated_deduplication_window = 10000;
