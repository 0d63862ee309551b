-- The live-stock change log after a watermark, oldest first, without the stock levels (the feed keeps
-- the levels of the products it has read, and advances them by these changes).
SELECT toString(change_id) AS id, product, delta, toUnixTimestamp64Micro(inserted_at) AS at_us
FROM {{db}}.stock_changes
WHERE inserted_at > {since:DateTime64(6, 'UTC')}
ORDER BY inserted_at, id
