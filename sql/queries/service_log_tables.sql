-- The service log tables and their engine (with the TTL), to change the TTL only where it differs.
SELECT name, engine_full
FROM system.tables
WHERE database = {db:String} AND name IN ('operation_log', 'ingest_log', 'error_log')
