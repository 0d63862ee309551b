-- Signed stock changes from the warehouses.
CREATE TABLE IF NOT EXISTS {{db}}.warehouse_stock
(
    timestamp DateTime('UTC'),
    product String,
    store String,
    amount Int32
)
ENGINE = MergeTree
PARTITION BY toYear(timestamp)
ORDER BY (timestamp, product)
SETTINGS non_replicated_deduplication_window = 10000;
