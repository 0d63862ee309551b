-- analytics_breakdown_count over the hourly pre-aggregation (sql/0081) for the whole hours of the range and
-- the per-app table for the ragged edges (see analytics_hourly_totals.sql).
SELECT
    toInt64(uniqExact(value)) AS total
FROM (
    SELECT value
    FROM {{db}}.app_events_hourly
    WHERE event_type = {app:String} AND workspace_id = {workspace:String}{{hourly}}
      AND bucket >= {wholeFrom:DateTime64(3, 'UTC')} AND bucket < {wholeTo:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT {{dimension}} AS value
    FROM {{db}}.{{table}}
    WHERE workspace_id = {workspace:String}
      AND (timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {wholeFrom:DateTime64(3, 'UTC')}
        OR timestamp >= {wholeTo:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}){{filters}}
)
WHERE value != ''
