-- Current stock per product, summed from warehouse changes and sales.
CREATE TABLE IF NOT EXISTS {{db}}.mv_latest_availability
(
    product String,
    available_stock SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
ORDER BY product
SETTINGS non_replicated_deduplication_window = 10000;
