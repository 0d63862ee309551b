-- Every live (not revoked) token, by name; never a hash.
SELECT name, scopes, workspace_id, toUnixTimestamp64Milli(created_at) AS created_ms,
       toUnixTimestamp64Milli(expires_at) AS expires_ms
FROM {{db}}.tokens FINAL
WHERE revoked = 0
ORDER BY name
