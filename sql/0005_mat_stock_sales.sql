-- Every sale takes one unit off the product's stock.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_stock_sales TO {{db}}.mv_latest_availability AS
SELECT product, sumSimpleState(toInt64(-1)) AS available_stock
FROM {{db}}.ecomm_events
WHERE event = 'sale'
GROUP BY product;
