-- The live (not revoked) token with this hash.
SELECT name, scopes, workspace_id, toUnixTimestamp64Milli(created_at) AS created_ms,
       toUnixTimestamp64Milli(expires_at) AS expires_ms
FROM {{db}}.tokens FINAL
WHERE hash = {hash:String} AND revoked = 0
LIMIT 1
