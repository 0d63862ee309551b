-- Newest errors first.
SELECT request_id, operation, code, message, toUnixTimestamp64Milli(at) AS at_ms
FROM {{db}}.error_log
ORDER BY at DESC
LIMIT {limit:UInt32}
