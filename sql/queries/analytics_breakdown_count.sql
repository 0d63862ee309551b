-- How many rows analytics_breakdown has without its LIMIT: the distinct non-empty values of one
-- dimension under the same filters (Tinybird's rows_before_limit_at_least for the v2 dimension pipes).
SELECT
    toInt64(uniqExact(value)) AS total
FROM (
    SELECT {{dimension}} AS value
    FROM {{db}}.{{table}}
    WHERE workspace_id = {workspace:String}
      AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}{{filters}}
)
WHERE value != ''
