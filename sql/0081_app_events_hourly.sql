-- App analytics pre-aggregated per hour (issue 20): for each app, workspace, hour and action, the event
-- count, revenue and exact distinct-count states (uniqExact, merged with uniqExactMerge) of sessions and
-- visitors — once for the whole app (dimension '', value '') and once per non-empty value of each
-- dimension and of the asset (dimension = the catalog field, value = its SQL expression). Totals, time
-- series and breakdowns read the whole hours of a range here and only the ragged edges from the per-app
-- tables, merging the states, so every count stays exact (store/analytics.ts plans which).
-- The dimension list mirrors src/catalog/dimensions.ts (a test checks every dimension against the raw
-- tables); a new dimension needs a new migration re-creating this view.
-- Batch markers (0070) live in `value` ('\0' || batch id, app/workspace/dimension '' so no query sees
-- them); `product` names it for the ingest's marker lookup (store/batches.ts looks markers up by product).
CREATE TABLE IF NOT EXISTS {{db}}.app_events_hourly
(
    event_type LowCardinality(String),
    workspace_id String,
    dimension LowCardinality(String),
    value String,
    bucket DateTime('UTC'),
    action LowCardinality(String),
    events SimpleAggregateFunction(sum, UInt64),
    revenue SimpleAggregateFunction(sum, Float64),
    sessions AggregateFunction(uniqExact, String),
    visitors AggregateFunction(uniqExact, String),
    product String ALIAS value,
    marked_at DateTime MATERIALIZED now(),
    INDEX marker_idx value TYPE bloom_filter GRANULARITY 1
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (event_type, workspace_id, dimension, bucket, value, action)
TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(value, '\0')
SETTINGS non_replicated_deduplication_window = 10000;

-- Backfill, idempotent under restart (as in 0080): clear what an interrupted run left, refill from
-- app_events with the view's own query (markers included), then create the view.
-- Run while nothing else writes to app_events (the gateway migrates before it serves).
ALTER TABLE {{db}}.app_events_hourly DELETE WHERE 1 SETTINGS mutations_sync = 2;

INSERT INTO {{db}}.app_events_hourly (event_type, workspace_id, dimension, value, bucket, action, events, revenue, sessions, visitors)
SELECT
    if(grouping(v) = 0, t, '') AS event_type,
    if(grouping(v) = 0, w, '') AS workspace_id,
    if(grouping(v) = 0, d, '') AS dimension,
    if(grouping(v) = 0, v, concat('\0', _batch)) AS value,
    min(b) AS bucket,
    if(grouping(v) = 0, a, '') AS action,
    if(grouping(v) = 0, sumSimpleState(toUInt64(1)), sumSimpleState(toUInt64(0))) AS events,
    if(grouping(v) = 0, sumSimpleState(revenue), sumSimpleState(toFloat64(0))) AS revenue,
    if(grouping(v) = 0, uniqExactState(session_id), uniqExactStateIf(session_id, 0)) AS sessions,
    if(grouping(v) = 0, uniqExactState(visitor_id), uniqExactStateIf(visitor_id, 0)) AS visitors
FROM (
    SELECT
        toString(event_type) AS t, workspace_id AS w, dv.1 AS d, dv.2 AS v, toStartOfHour(timestamp) AS b,
        toString(action) AS a, revenue, session_id, visitor_id, _batch
    FROM {{db}}.app_events
    ARRAY JOIN [
        ('', ''),
        ('assetId', asset_id),
        ('browser', toString(browser)),
        ('os', toString(os)),
        ('device', toString(device)),
        ('country', toString(country)),
        ('region', region),
        ('city', city),
        ('referer', cutToFirstSignificantSubdomain(referer)),
        ('platform', toString(platform)),
        ('emailBroadcastId', email_broadcast_id),
        ('emailTemplateId', email_template_id),
        ('flowActionId', flow_action_id),
        ('landingPageId', landing_page_id),
        ('metaAdId', meta_ad_id),
        ('metaAdSetId', meta_ad_set_id),
        ('metaCampaignId', meta_campaign_id),
        ('metaPlacementId', meta_placement_id)
    ] AS dv
    WHERE dv.1 = '' OR dv.2 != ''
)
GROUP BY GROUPING SETS ((t, w, d, v, b, a), (_batch))
HAVING grouping(v) = 0 OR _batch != ''
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.mat_app_events_hourly TO {{db}}.app_events_hourly AS
SELECT
    if(grouping(v) = 0, t, '') AS event_type,
    if(grouping(v) = 0, w, '') AS workspace_id,
    if(grouping(v) = 0, d, '') AS dimension,
    if(grouping(v) = 0, v, concat('\0', _batch)) AS value,
    min(b) AS bucket,
    if(grouping(v) = 0, a, '') AS action,
    if(grouping(v) = 0, sumSimpleState(toUInt64(1)), sumSimpleState(toUInt64(0))) AS events,
    if(grouping(v) = 0, sumSimpleState(revenue), sumSimpleState(toFloat64(0))) AS revenue,
    if(grouping(v) = 0, uniqExactState(session_id), uniqExactStateIf(session_id, 0)) AS sessions,
    if(grouping(v) = 0, uniqExactState(visitor_id), uniqExactStateIf(visitor_id, 0)) AS visitors
FROM (
    SELECT
        toString(event_type) AS t, workspace_id AS w, dv.1 AS d, dv.2 AS v, toStartOfHour(timestamp) AS b,
        toString(action) AS a, revenue, session_id, visitor_id, _batch
    FROM {{db}}.app_events
    ARRAY JOIN [
        ('', ''),
        ('assetId', asset_id),
        ('browser', toString(browser)),
        ('os', toString(os)),
        ('device', toString(device)),
        ('country', toString(country)),
        ('region', region),
        ('city', city),
        ('referer', cutToFirstSignificantSubdomain(referer)),
        ('platform', toString(platform)),
        ('emailBroadcastId', email_broadcast_id),
        ('emailTemplateId', email_template_id),
        ('flowActionId', flow_action_id),
        ('landingPageId', landing_page_id),
        ('metaAdId', meta_ad_id),
        ('metaAdSetId', meta_ad_set_id),
        ('metaCampaignId', meta_campaign_id),
        ('metaPlacementId', meta_placement_id)
    ] AS dv
    WHERE dv.1 = '' OR dv.2 != ''
)
GROUP BY GROUPING SETS ((t, w, d, v, b, a), (_batch))
HAVING grouping(v) = 0 OR _batch != '';
