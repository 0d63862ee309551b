-- Newest ingest batches first.
SELECT table, rows, quarantined, duration_ms, token, deduplicated, toUnixTimestamp64Milli(at) AS at_ms
FROM {{db}}.ingest_log
ORDER BY at DESC
LIMIT {limit:UInt32}
