-- The catalog, one page at a time (api: products).
SELECT id, category, name, photo, price
FROM ({{latest_products}})
WHERE {category:Nullable(String)} IS NULL OR category = {category:Nullable(String)}
ORDER BY category, id
LIMIT {limit:UInt32} OFFSET {offset:UInt32}
