-- The recorded result of a keyed batch, if its record is stored.
SELECT accepted, quarantined, errors, recovered
FROM {{db}}.ingest_batches FINAL
WHERE table = {table:String} AND key = {key:String}
LIMIT 1
