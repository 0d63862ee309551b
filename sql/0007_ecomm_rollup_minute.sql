-- Per-minute counts per product for trends. Revenue is sales × the product's current price, joined at
-- query time, so a price correction applies to history too (documented in the README).
CREATE TABLE IF NOT EXISTS {{db}}.ecomm_rollup_minute
(
    bucket DateTime('UTC'),
    product String,
    views SimpleAggregateFunction(sum, UInt64),
    carts SimpleAggregateFunction(sum, UInt64),
    sales SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (product, bucket)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_ecomm_rollup_minute TO {{db}}.ecomm_rollup_minute AS
SELECT
    toStartOfMinute(timestamp) AS bucket,
    product,
    sumSimpleState(toUInt64(event = 'view')) AS views,
    sumSimpleState(toUInt64(event = 'cart')) AS carts,
    sumSimpleState(toUInt64(event = 'sale')) AS sales
FROM {{db}}.ecomm_events
GROUP BY bucket, product;
