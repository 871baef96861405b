-- Spend per day × channel × campaign × creative × source, in the currency reported and converted to the
-- app's reporting currency. A restatement (the same key sent again) is a newer version; ad_spend_current keeps
-- the newest, so nothing is summed twice.
CREATE TABLE IF NOT EXISTS ad_spend
(
    app_id             LowCardinality(String),
    date               Date,
    channel            LowCardinality(String),
    campaign           String,
    creative           String,
    source             LowCardinality(String),
    spend              Decimal(18, 4),
    currency           LowCardinality(String),
    spend_reporting    Decimal(18, 4),
    reporting_currency LowCardinality(String),
    fx_rate            Decimal(18, 8),
    received_at        DateTime64(3, 'UTC'),
    version            UInt64,
    _partition         UInt16,
    _offset            UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(date)
ORDER BY (app_id, date, channel, campaign, creative, source)
SETTINGS non_replicated_deduplication_window = 10000;

-- The views of this migration are in schemas/views/ (created again at every start).
