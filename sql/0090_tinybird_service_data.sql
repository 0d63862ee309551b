-- Tinybird's service datasources as views over Sightline's own logs (0040), under Tinybird's column names
-- and types, for what Sightline records: `/v0/sql` and a loaded project's pipes read `tinybird.<name>` as
-- `tinybird_<name>` (src/catalog/service-datasources.ts). A column Sightline does not record (url,
-- result_rows, parameters, cpu_time, …) is left out, so a query naming it fails rather than reads zeros.
-- pipe_name is the operation's name (a pipe's, a GraphQL operation's; /v0/sql's is Tinybird's `query_api`),
-- and so is pipe_id.
-- status_code is the status REST answers for the operation's error code (src/rest/http.ts, STATUS; a test
-- compares the two), 200 without an error.

CREATE VIEW IF NOT EXISTS {{db}}.tinybird_pipe_stats_rt AS
SELECT
    toDateTime(at, 'UTC') AS start_datetime,
    operation AS pipe_id,
    pipe_id AS pipe_name,
    toFloat32(duration_ms / 1000) AS duration,
    bytes_read AS read_bytes,
    rows_read AS read_rows,
    toUInt8(CAST(error_code, 'String') != '') AS error,
    request_id,
    token AS token_name,
    toInt32(if(CAST(error_code, 'String') = '', 200, transform(CAST(error_code, 'String'),
        ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'STORE_UNAVAILABLE', 'STORE_BUSY', 'QUERY_TIMEOUT', 'VALUE_OUT_OF_RANGE'],
        [403, 403, 400, 429, 413, 503, 503, 504, 500], 500))) AS status_code
FROM {{db}}.operation_log;

CREATE VIEW IF NOT EXISTS {{db}}.tinybird_pipe_stats AS
SELECT
    toDate(start_datetime) AS date,
    pipe_id,
    pipe_name,
    count() AS view_count,
    countIf(error = 1) AS error_count,
    avgState(duration) AS avg_duration_state,
    quantilesTimingState(0.9, 0.95, 0.99)(toFloat64(duration) * 1000) AS quantile_timing_state,
    sum(read_bytes) AS read_bytes_sum,
    sum(read_rows) AS read_rows_sum
FROM {{db}}.tinybird_pipe_stats_rt
GROUP BY date, pipe_id, pipe_name;

CREATE VIEW IF NOT EXISTS {{db}}.tinybird_datasources_ops_log AS
SELECT
    toDateTime(at, 'UTC') AS timestamp,
    'append' AS event_type,
    replaceRegexpOne(CAST(table, 'String'), '^[^.]*[.]', '') AS datasource_id,
    datasource_id AS datasource_name,
    'ok' AS result,
    toFloat32(duration_ms / 1000) AS elapsed_time,
    toUInt64(rows) AS rows,
    toUInt64(quarantined) AS rows_quarantine,
    toUInt64(rows) AS written_rows,
    toUInt64(quarantined) AS written_rows_quarantine,
    token AS token_name
FROM {{db}}.ingest_log;

CREATE VIEW IF NOT EXISTS {{db}}.tinybird_endpoint_errors AS
SELECT
    toDateTime(at, 'UTC') AS start_datetime,
    request_id,
    operation AS pipe_id,
    pipe_id AS pipe_name,
    toInt32(transform(CAST(code, 'String'),
        ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'STORE_UNAVAILABLE', 'STORE_BUSY', 'QUERY_TIMEOUT', 'VALUE_OUT_OF_RANGE'],
        [403, 403, 400, 429, 413, 503, 503, 504, 500], 500)) AS status_code,
    message AS error
FROM {{db}}.error_log;
