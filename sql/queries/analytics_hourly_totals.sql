-- analytics_totals over the hourly pre-aggregation (sql/0081): its whole hours [wholeFrom, wholeTo), and
-- the per-app table only for the ragged edges [from, wholeFrom) and [wholeTo, to), merged as states so
-- distinct counts stay exact. {{metrics}} (merged), {{hourly}} (the pre-aggregation's dimension, value and
-- action conditions), {{table}} and {{filters}} come from closed maps in the store (analytics.ts).
SELECT
    {{metrics}}
FROM (
    SELECT action, toUInt64(events) AS n, toFloat64(revenue) AS money, sessions AS s_state, visitors AS v_state
    FROM {{db}}.app_events_hourly
    WHERE event_type = {app:String} AND workspace_id = {workspace:String}{{hourly}}
      AND bucket >= {wholeFrom:DateTime64(3, 'UTC')} AND bucket < {wholeTo:DateTime64(3, 'UTC')}
    UNION ALL
    SELECT action, count() AS n, sum(revenue) AS money, uniqExactState(session_id) AS s_state, uniqExactState(visitor_id) AS v_state
    FROM {{db}}.{{table}}
    WHERE workspace_id = {workspace:String}
      AND (timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {wholeFrom:DateTime64(3, 'UTC')}
        OR timestamp >= {wholeTo:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}){{filters}}
    GROUP BY action
)
