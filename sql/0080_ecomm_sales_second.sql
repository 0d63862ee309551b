-- Sales per product and second, ordered by time: the grid's last-hour hits (`timestamp >= now() - 1 hour`)
-- read only the last hour's rows here instead of every sale granule of ecomm_events (ordered by product,
-- so a time range skips nothing there; the minute rollup, ordered (product, bucket), has the same problem).
-- ecomm_events' timestamps are whole seconds, so every window starting on a second is made of whole
-- buckets and the sum is exactly the raw count.
-- Batch markers as in 0070/0072: one row per keyed block, product = '\0' || batch id, sales 0.
CREATE TABLE IF NOT EXISTS {{db}}.ecomm_sales_second
(
    second DateTime('UTC'),
    product String,
    sales SimpleAggregateFunction(sum, UInt64),
    marked_at DateTime MATERIALIZED now(),
    -- Every keyed ingest looks its markers up by product (store/batches.ts): not a prefix of this key.
    INDEX marker_idx product TYPE bloom_filter GRANULARITY 1
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(second)
ORDER BY (second, product)
TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS non_replicated_deduplication_window = 10000;

-- Backfill, idempotent under restart: an interrupted run left part of it (or, if it stopped after the
-- view below, rows the view wrote since); clearing and refilling from ecomm_events gives the same table.
-- Markers are backfilled too, so a retry of a batch stored before this migration finds its slice here.
-- Run while nothing else writes to ecomm_events (the gateway migrates before it serves).
ALTER TABLE {{db}}.ecomm_sales_second DELETE WHERE 1 SETTINGS mutations_sync = 2;

INSERT INTO {{db}}.ecomm_sales_second (second, product, sales)
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM {{db}}.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != ''
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_ecomm_sales_second TO {{db}}.ecomm_sales_second AS
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM {{db}}.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '';
