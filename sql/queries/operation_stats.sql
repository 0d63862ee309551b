-- Calls, errors, latency percentiles and rows read per operation in [from, to).
SELECT
    operation,
    count() AS calls,
    countIf(error_code != '') AS errors,
    quantileExact(0.5)(duration_ms) AS p50_ms,
    quantileExact(0.95)(duration_ms) AS p95_ms,
    sum(rows_read) AS rows_read
FROM {{db}}.operation_log
WHERE at >= {from:DateTime64(3, 'UTC')} AND at < {to:DateTime64(3, 'UTC')}
GROUP BY operation
ORDER BY calls DESC, operation ASC
LIMIT 1000
