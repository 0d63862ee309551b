-- Current stock of the given products (the seed's latest_stock node).
SELECT product, toInt64(sum(available_stock)) AS available
FROM {{db}}.mv_latest_availability
WHERE product IN {ids:Array(String)}
GROUP BY product
