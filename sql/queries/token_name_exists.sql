-- One row when a live (not revoked) token has this name.
SELECT 1 FROM {{db}}.tokens FINAL WHERE name = {name:String} AND revoked = 0 LIMIT 1
