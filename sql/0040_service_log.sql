-- Service data (Tinybird's pipe_stats_rt, datasources_ops_log, endpoint_errors), kept 30 days.
CREATE TABLE IF NOT EXISTS {{db}}.operation_log
(
    at DateTime64(3, 'UTC'),
    request_id String,
    operation String,
    token String,
    duration_ms Float64,
    rows_read UInt64,
    bytes_read UInt64,
    error_code LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (operation, at)
TTL toDateTime(at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {{db}}.ingest_log
(
    at DateTime64(3, 'UTC'),
    table LowCardinality(String),
    rows UInt32,
    quarantined UInt32,
    duration_ms Float64,
    token String,
    deduplicated UInt8
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY at
TTL toDateTime(at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS {{db}}.error_log
(
    at DateTime64(3, 'UTC'),
    request_id String,
    operation String,
    code LowCardinality(String),
    message String
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY at
TTL toDateTime(at) + INTERVAL 30 DAY;
