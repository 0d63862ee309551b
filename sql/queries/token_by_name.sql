-- The stored row of the live token with this name, to write it again as revoked.
SELECT name, hash, scopes, workspace_id, created_at, expires_at
FROM {{db}}.tokens FINAL
WHERE name = {name:String} AND revoked = 0
LIMIT 1
