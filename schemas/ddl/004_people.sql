-- Building blocks of the analytics views (docs/queries.md): every event with the person it belongs to, and
-- the channel catalog (the processor writes the taxonomy it runs with at start, so spend on a channel that
-- had no conversions still shows its channel type).

CREATE TABLE IF NOT EXISTS channel_catalog
(
    channel          LowCardinality(String),
    channel_type     LowCardinality(String),
    name             String,
    taxonomy_version UInt32
)
ENGINE = ReplacingMergeTree(taxonomy_version)
ORDER BY channel;

-- The views of this migration are in schemas/views/ (created again at every start).
