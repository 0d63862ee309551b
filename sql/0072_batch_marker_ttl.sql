-- Batch markers (0070) are one row per keyed batch slice in each aggregating view, and unlike the
-- product rows they never merge away. They matter only while a retry may still come for a batch whose
-- record is missing, so they expire with the batch records (ingest_batches: 30 days). `marked_at` is
-- when a row was written (hidden like `_batch`); only marker rows (product starting with NUL) expire.
-- Existing parts are not rewritten (`materialize_ttl_after_modify = 0`): merges apply the TTL.
ALTER TABLE {{db}}.mv_latest_availability ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE {{db}}.ecomm_rollup_minute ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE {{db}}.ecomm_rollup_hour ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE {{db}}.ecomm_rollup_day ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();

ALTER TABLE {{db}}.mv_latest_availability MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE {{db}}.ecomm_rollup_minute MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE {{db}}.ecomm_rollup_hour MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE {{db}}.ecomm_rollup_day MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;
