-- analytics_breakdown over the hourly pre-aggregation (sql/0081) for the whole hours of the range and the
-- per-app table for the ragged edges, merged as states (see analytics_hourly_totals.sql).
-- {{dimension}} is the dimension's expression from a closed map; {dimensionKey} its catalog field.
SELECT
    value,
    {{metrics}}
FROM (
    SELECT value, action, toUInt64(events) AS n, toFloat64(revenue) AS money, sessions AS s_state, visitors AS v_state
    FROM {{db}}.app_events_hourly
    WHERE event_type = {app:String} AND workspace_id = {workspace:String}{{hourly}}
      AND bucket >= {wholeFrom:DateTime64(3, 'UTC')} AND bucket < {wholeTo:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT {{dimension}} AS value, action, count() AS n, sum(revenue) AS money, uniqExactState(session_id) AS s_state, uniqExactState(visitor_id) AS v_state
    FROM {{db}}.{{table}}
    WHERE workspace_id = {workspace:String}
      AND (timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {wholeFrom:DateTime64(3, 'UTC')}
        OR timestamp >= {wholeTo:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}){{filters}}
    GROUP BY value, action
)
WHERE value != ''
GROUP BY value
ORDER BY sessions DESC, value ASC
LIMIT {limit:UInt32}
