-- Products by id, for the per-request loader.
SELECT id, category, name, photo, price
FROM ({{latest_products}})
WHERE id IN {ids:Array(String)}
