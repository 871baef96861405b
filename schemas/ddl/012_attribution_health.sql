-- Attribution health (docs/queries.md): the figures an operator checks first when the numbers look wrong.

-- Events the stream processor absorbed as duplicates (an event id it had already stored), one row per
-- duplicate copy. Written in the same flush as the events rows; keyed by the duplicate's own position in the
-- events topic (partition, offset, index in the record), so a replay or a restart after a crash writes the same
-- keys again and ReplacingMergeTree (plus the insert token) keeps each copy once.
CREATE TABLE IF NOT EXISTS duplicate_events
(
    app_id       LowCardinality(String),
    event_id     String,
    type         LowCardinality(String),
    event_time   DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    _partition   UInt16,
    _offset      UInt64,
    event_index  UInt32,
    _inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (app_id, _partition, _offset, event_index)
SETTINGS non_replicated_deduplication_window = 10000;

-- The views of this migration are in schemas/views/ (created again at every start).
