-- Write ids (issue 20, live push): a write through the gateway that moves stock carries an id in `_batch`
-- even without an idempotency key ('w' and 16 hex digits; a keyed batch's id is hex only, so the two never
-- meet), and the change log keeps it per row. The live feed sends such a write's changes to subscribers as
-- soon as the write is stored and, by that id, does not send them again when it reads the log.
-- Batch markers (0070) are for keyed batches only: each aggregating view's marker condition now skips
-- write ids, so an unkeyed write adds no marker row. Otherwise the same statements as 0070 and 0080.

ALTER TABLE {{db}}.mat_stock_sales MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(-sale)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, event = 'sale' AS sale, _batch FROM {{db}}.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '' AND NOT startsWith(_batch, 'w');

ALTER TABLE {{db}}.mat_stock_wh MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(amount)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, amount, _batch FROM {{db}}.warehouse_stock)
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');

ALTER TABLE {{db}}.mat_ecomm_rollup_minute MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfMinute(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');

ALTER TABLE {{db}}.mat_ecomm_rollup_hour MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfHour(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');

ALTER TABLE {{db}}.mat_ecomm_rollup_day MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfDay(timestamp) AS b, product AS p, event, _batch FROM {{db}}.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');

ALTER TABLE {{db}}.mat_ecomm_sales_second MODIFY QUERY
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM {{db}}.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '' AND NOT startsWith(_batch, 'w');
