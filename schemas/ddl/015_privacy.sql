-- Privacy (docs/privacy.md): the audit of deletion and suppression requests, the suppression list, and
-- retention of raw and bad events per app.

-- One row per state a request reached (the processor writes `completed`; the collector's view holds the
-- states before it). No personal data: subjects are HMAC hashes of typed ids, person keys are user keys.
CREATE TABLE IF NOT EXISTS privacy_requests
(
    app_id         LowCardinality(String),
    request_id     String,
    type           LowCardinality(String),
    status         LowCardinality(String),
    subject_hashes Array(String),
    person_keys    Array(String),
    rows_deleted   Map(String, UInt64),
    submitted_at   DateTime64(3, 'UTC'),
    completed_at   DateTime64(3, 'UTC'),
    -- The events-topic position of the request's first command: deletes reach rows below it, on a replay too.
    _partition     UInt16,
    _offset        UInt64
)
ENGINE = ReplacingMergeTree(completed_at)
ORDER BY (app_id, request_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Suppressed ids (HMAC of `kind:value`, the platform suffix dropped): the processor writes one row per id of a
-- suppressed person and `suppressed = 0` on unsuppress; collectors read the same entries from the compacted
-- privacy topic.
CREATE TABLE IF NOT EXISTS privacy_suppressions
(
    app_id     LowCardinality(String),
    id_hash    String,
    request_id String,
    suppressed UInt8,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (app_id, id_hash, request_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Retention per app: a TTL cannot read a per-app setting, so each row carries its app's days, written by the
-- processor from the apps file (`retention.events_days`, `retention.bad_events_days`; 0 keeps the row). Rows
-- written before this migration have 0. Expired rows are dropped by TTL merges (merge_with_ttl_timeout: at most
-- an hour late) and at once by a part written already expired.
ALTER TABLE events ADD COLUMN IF NOT EXISTS retention_days UInt16 DEFAULT 0;
ALTER TABLE bad_events ADD COLUMN IF NOT EXISTS retention_days UInt16 DEFAULT 0;
ALTER TABLE events MODIFY TTL toDateTime(received_at) + toIntervalDay(retention_days) WHERE retention_days > 0;
ALTER TABLE bad_events MODIFY TTL toDateTime(received_at) + toIntervalDay(retention_days) WHERE retention_days > 0;
ALTER TABLE events MODIFY SETTING merge_with_ttl_timeout = 3600;
ALTER TABLE bad_events MODIFY SETTING merge_with_ttl_timeout = 3600;
