-- The live-stock change log after a watermark, oldest first, without the stock levels (the feed keeps
-- the levels of the products it has read, and advances them by these changes). `write` is the write a
-- change came from when the gateway gave it an id (a keyed batch's id without its slice's month, or an
-- unkeyed write's id, sql/0082_write_ids.sql), else ''. The watermark is an integer slot (microseconds
-- since the epoch), not a bound parameter: an unbound statement runs on the store's priority lane, beside
-- a long read, instead of behind it in chDB's one chain of bound queries.
SELECT toString(change_id) AS id, product, delta, toUnixTimestamp64Micro(inserted_at) AS at_us, splitByChar('.', _batch)[1] AS write
FROM {{db}}.stock_changes
WHERE inserted_at > fromUnixTimestamp64Micro(toInt64({{since_us}}), 'UTC')
ORDER BY inserted_at, id
