-- Newest quarantined rows of one datasource ({{table}} from the closed list of ingest tables).
SELECT row, reason, toUnixTimestamp64Milli(at) AS at_ms
FROM {{db}}.{{table}}_quarantine
ORDER BY at DESC
LIMIT {limit:UInt32}
