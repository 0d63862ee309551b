-- Views, carts, sales and revenue per bucket from a rollup. {{rollup}} (minute|hour|day) and {{bucket}}
-- (the bucket expression over `bucket` in {tz}) come from closed maps in the store.
-- Revenue is sales × the product's current price; events of unknown products count with no revenue.
-- Money is rounded to 6 decimals: a float sum of prices carries noise (26237.430000000004) no one wants to see.
SELECT
    toInt64(toUnixTimestamp({{bucket}})) AS start,
    toInt64(sum(r.views)) AS views,
    toInt64(sum(r.carts)) AS carts,
    toInt64(sum(r.sales)) AS sales,
    round(sum(r.sales * p.price), 6) AS revenue
FROM {{db}}.ecomm_rollup_{{rollup}} AS r
LEFT JOIN ({{latest_products}}) AS p ON p.id = r.product
WHERE r.bucket >= {from:DateTime('UTC')} AND r.bucket < {to:DateTime('UTC')}
  AND ({product:Nullable(String)} IS NULL OR r.product = {product:Nullable(String)})
  AND ({category:String} = 'all' OR p.category = {category:String})
GROUP BY start
