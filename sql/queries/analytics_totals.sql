-- One app's metrics for a workspace and time range. {{table}}, {{metrics}} and {{filters}} come from
-- closed maps in the store; every value is a bound parameter.
SELECT
    {{metrics}}
FROM {{db}}.{{table}}
WHERE workspace_id = {workspace:String}
  AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}{{filters}}
