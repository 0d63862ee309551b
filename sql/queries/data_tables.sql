-- The tables `resetData` empties: every stored table but tokens, migrations and the service logs.
SELECT name FROM system.tables
WHERE database = {db:String} AND engine NOT IN ('MaterializedView', 'View', 'Distributed')
  AND name NOT IN ('tokens', 'schema_migrations', 'operation_log', 'ingest_log', 'error_log')
ORDER BY name
