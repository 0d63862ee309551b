-- Exactly-once ingest under crashes (issue 17). Every row of a keyed batch carries the batch's id in a
-- hidden `_batch` column (MATERIALIZED '': `SELECT *`, `DESCRIBE`-based listings and the datasource API
-- do not show it; only inserts that set `insert_allow_materialized_columns` write it). Plain tables and
-- views keep it per row; aggregating views, whose rows merge, get one marker row per batch instead
-- (product = '\0' || batch id, every sum 0), written in the same part as the batch's other rows. A retry
-- then checks what actually landed in each table and view and fills only what is missing; ClickHouse's
-- local deduplication log (written before a part is renamed into place) is no longer trusted.
-- Every statement is idempotent (ADD COLUMN IF NOT EXISTS, MODIFY QUERY), so a run interrupted at any
-- statement is completed by the next one.

ALTER TABLE {{db}}.ecomm_events ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.warehouse_stock ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.products ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.app_events ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.ecomm_events_quarantine ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.warehouse_stock_quarantine ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.products_quarantine ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.app_events_quarantine ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.cart_events_mv ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.fm_events_mv ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.link_events_mv ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.page_events_mv ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE {{db}}.stock_changes ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';

-- Per-app views pass the id through.
ALTER TABLE {{db}}.cart_events_pipe MODIFY QUERY
SELECT *, _batch FROM {{db}}.app_events WHERE event_type = 'cart';

ALTER TABLE {{db}}.fm_events_pipe MODIFY QUERY
SELECT *, _batch FROM {{db}}.app_events WHERE event_type = 'fm';

ALTER TABLE {{db}}.link_events_pipe MODIFY QUERY
SELECT *, _batch FROM {{db}}.app_events WHERE event_type = 'link';

ALTER TABLE {{db}}.page_events_pipe MODIFY QUERY
SELECT *, _batch FROM {{db}}.app_events WHERE event_type = 'page';

-- The change log keeps one row per product per block, now with the block's batch id.
ALTER TABLE {{db}}.mat_stock_changes_sales MODIFY QUERY
SELECT generateUUIDv4() AS change_id, product, -toInt64(count()) AS delta, now64(6) AS inserted_at, _batch
FROM {{db}}.ecomm_events
WHERE event = 'sale'
GROUP BY product, _batch;

ALTER TABLE {{db}}.mat_stock_changes_wh MODIFY QUERY
SELECT generateUUIDv4() AS change_id, product, sum(toInt64(amount)) AS delta, now64(6) AS inserted_at, _batch
FROM {{db}}.warehouse_stock
GROUP BY product, _batch;

-- Aggregating views: the per-product rows as before, plus (grouping set `(_batch)`) one marker row per
-- keyed block. The marker is written even when the block has no row for the view (a batch without a
-- sale), so "the marker is there" means "this view's part of the batch landed". (The subquery renames
-- the key columns: an output alias equal to a key would put grouping() inside GROUP BY.)
ALTER TABLE {{db}}.mat_stock_sales MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(-sale)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, event = 'sale' AS sale, _batch FROM {{db}}.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '';

ALTER TABLE {{db}}.mat_stock_wh MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(amount)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, amount, _batch FROM {{db}}.warehouse_stock)
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';

-- The marker's bucket is the batch's first bucket: the same partition (month) as its rows, so one part.
ALTER TABLE {{db}}.mat_ecomm_rollup_minute MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfMinute(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';

-- The marker's bucket is the batch's first bucket: the same partition (month) as its rows, so one part.
ALTER TABLE {{db}}.mat_ecomm_rollup_hour MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfHour(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';

-- The marker's bucket is the batch's first bucket: the same partition (month) as its rows, so one part.
ALTER TABLE {{db}}.mat_ecomm_rollup_day MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfDay(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';
