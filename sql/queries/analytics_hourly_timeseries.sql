-- analytics_timeseries over the hourly pre-aggregation (sql/0081) for the whole hours of the range and the
-- per-app table for the ragged edges (see analytics_hourly_totals.sql). Used only when every bucket starts
-- on a UTC hour, so each pre-aggregated hour lies in one bucket: {{hourBucket}} maps the hour's start to it,
-- {{bucket}} maps a raw row's timestamp. Empty buckets are filled in by the store.
SELECT
    start,
    {{metrics}}
FROM (
    SELECT toInt64(toUnixTimestamp({{hourBucket}})) AS start, action, toUInt64(events) AS n, toFloat64(revenue) AS money,
        sessions AS s_state, visitors AS v_state
    FROM {{db}}.app_events_hourly
    WHERE event_type = {app:String} AND workspace_id = {workspace:String}{{hourly}}
      AND bucket >= {wholeFrom:DateTime64(3, 'UTC')} AND bucket < {wholeTo:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT toInt64(toUnixTimestamp({{bucket}})) AS start, action, count() AS n, sum(revenue) AS money,
        uniqExactState(session_id) AS s_state, uniqExactState(visitor_id) AS v_state
    FROM {{db}}.{{table}}
    WHERE workspace_id = {workspace:String}
      AND (timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {wholeFrom:DateTime64(3, 'UTC')}
        OR timestamp >= {wholeTo:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}){{filters}}
    GROUP BY start, action
)
GROUP BY start
