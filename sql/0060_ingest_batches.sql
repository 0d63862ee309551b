-- Results of ingest batches sent with an idempotency key, so a retry answers like the first call.
-- The data inserts carry the key as their deduplication token, which covers a crash between the
-- rows and this record.
CREATE TABLE IF NOT EXISTS {{db}}.ingest_batches
(
    table LowCardinality(String),
    key String,
    accepted UInt32,
    quarantined UInt32,
    errors String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(at)
ORDER BY (table, key)
TTL toDateTime(at) + INTERVAL 30 DAY;
