-- Warehouse changes add their signed amount to the product's stock.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_stock_wh TO {{db}}.mv_latest_availability AS
SELECT product, sumSimpleState(toInt64(amount)) AS available_stock
FROM {{db}}.warehouse_stock
GROUP BY product;
