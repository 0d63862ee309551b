-- Change log for live stock: one row per product per inserted block, stamped when it was written.
-- Subscribers of every gateway replica poll it, so writes that bypass a gateway are seen too.
CREATE TABLE IF NOT EXISTS {{db}}.stock_changes
(
    change_id UUID,
    product String,
    delta Int64,
    inserted_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(inserted_at)
ORDER BY (inserted_at, product)
TTL toDateTime(inserted_at) + INTERVAL 1 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_stock_changes_sales TO {{db}}.stock_changes AS
SELECT generateUUIDv4() AS change_id, product, -toInt64(count()) AS delta, now64(6) AS inserted_at
FROM {{db}}.ecomm_events
WHERE event = 'sale'
GROUP BY product;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_stock_changes_wh TO {{db}}.stock_changes AS
SELECT generateUUIDv4() AS change_id, product, sum(toInt64(amount)) AS delta, now64(6) AS inserted_at
FROM {{db}}.warehouse_stock
GROUP BY product;
