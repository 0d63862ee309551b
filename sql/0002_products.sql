-- Product catalog. Upserts: the row with the highest version of an id wins (read with argMax).
CREATE TABLE IF NOT EXISTS {{db}}.products
(
    category String,
    id String,
    name String,
    photo String,
    price Float64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (category, id)
SETTINGS non_replicated_deduplication_window = 10000;
