-- Sale events in the last hour per product (the seed's ecomm_hits node).
SELECT product, toInt64(count()) AS hits
FROM {{db}}.ecomm_events
WHERE event = 'sale' AND timestamp >= now() - INTERVAL 1 HOUR AND product IN {ids:Array(String)}
GROUP BY product
