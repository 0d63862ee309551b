-- Sale events in the last hour per product (the seed's ecomm_hits node), from the per-second sales rollup
-- (sql/0080): exactly the raw count of `event = 'sale' AND timestamp >= now() - 1 hour`.
SELECT product, toInt64(sum(sales)) AS hits
FROM {{db}}.ecomm_sales_second
WHERE second >= now() - INTERVAL 1 HOUR AND product IN {ids:Array(String)}
GROUP BY product
