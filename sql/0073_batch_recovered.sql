-- Batches completed at start-up from the ingest journal (not by their client's retry) are recorded with
-- recovered = 1: the client's next retry then answers `deduplicated: false` (its first attempt had not
-- fully landed) and records the batch again with recovered = 0, so retries after that answer true.
ALTER TABLE {{db}}.ingest_batches ADD COLUMN IF NOT EXISTS recovered UInt8 DEFAULT 0;
