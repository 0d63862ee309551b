-- Landing datasource for customer interactions (view | cart | sale).
CREATE TABLE IF NOT EXISTS {{db}}.ecomm_events
(
    timestamp DateTime('UTC'),
    event LowCardinality(String),
    product String
)
ENGINE = MergeTree
PARTITION BY toYear(timestamp)
ORDER BY (event, product, timestamp)
SETTINGS non_replicated_deduplication_window = 10000;
