-- The current version of every product (upserts: the highest version of an id wins).
SELECT
    id,
    argMax(category, version) AS category,
    argMax(name, version) AS name,
    argMax(photo, version) AS photo,
    argMax(price, version) AS price
FROM {{db}}.products
GROUP BY id
