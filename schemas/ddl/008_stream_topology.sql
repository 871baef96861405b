-- How many partitions the events topic had when the stored versions were made. A row's version is its source
-- position (Kafka offset x 65536 + index), which orders rows only within one partition: if the topic gained
-- partitions, an app would move to another partition, its new rows would get lower versions than its old
-- ones, and the *_current views would keep the old. The processor records the count at its first start and
-- refuses to start (one line) when the topic no longer has it. See docs/attribution.md, "Partitions".
CREATE TABLE IF NOT EXISTS stream_topology
(
    topic        String,
    partitions   UInt32,
    recorded_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY topic;
