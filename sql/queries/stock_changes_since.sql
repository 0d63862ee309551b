-- The live-stock change log after a watermark, oldest first, each change with its product's stock now
-- (`stocked` is '' when the stock read found no row for it: a change logged between this query's two reads
-- of the log, whose stock is then read on its own).
SELECT toString(c.change_id) AS id, c.product AS product, c.delta AS delta,
       toUnixTimestamp64Micro(c.inserted_at) AS at_us, s.available AS available, s.product AS stocked
FROM {{db}}.stock_changes AS c
LEFT JOIN
(
    SELECT product, toInt64(sum(available_stock)) AS available
    FROM {{db}}.mv_latest_availability
    WHERE product IN (SELECT product FROM {{db}}.stock_changes WHERE inserted_at > {since:DateTime64(6, 'UTC')})
    GROUP BY product
) AS s ON s.product = c.product
WHERE c.inserted_at > {since:DateTime64(6, 'UTC')}
ORDER BY c.inserted_at, id
SETTINGS join_use_nulls = 0
