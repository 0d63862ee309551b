-- The seed's api_ui_filters, product branch: the category's products by name (the VALUE branch is static).
SELECT id, name
FROM ({{latest_products}})
WHERE {category:String} = 'all' OR category = {category:String}
ORDER BY name, id
