-- The seed's v2_<app>_timeseries: metrics per bucket ({{bucket}}: a closed-map expression in {tz}).
-- Empty buckets are filled in by the store.
SELECT
    toInt64(toUnixTimestamp({{bucket}})) AS start,
    {{metrics}}
FROM {{db}}.{{table}}
WHERE workspace_id = {workspace:String}
  AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}{{filters}}
GROUP BY start
