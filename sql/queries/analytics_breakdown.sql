-- The seed's v2_<app>_<dimension> endpoints: metrics per non-empty value of one dimension,
-- by sessions then value. {{dimension}} is the dimension's expression from a closed map.
SELECT
    {{dimension}} AS value,
    {{metrics}}
FROM {{db}}.{{table}}
WHERE workspace_id = {workspace:String}
  AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}{{filters}}
  AND value != ''
GROUP BY value
ORDER BY sessions DESC, value ASC
LIMIT {limit:UInt32}
