-- Landing datasource for the four apps' events (the seed's barely_events). Missing strings are ''.
CREATE TABLE IF NOT EXISTS {{db}}.app_events
(
    timestamp DateTime64(3, 'UTC'),
    event_type LowCardinality(String),
    action LowCardinality(String),
    workspace_id String,
    session_id String,
    visitor_id String,
    asset_id String,
    browser LowCardinality(String),
    os LowCardinality(String),
    device LowCardinality(String),
    country LowCardinality(String),
    region String,
    city String,
    referer String,
    platform LowCardinality(String),
    email_broadcast_id String,
    email_template_id String,
    flow_action_id String,
    landing_page_id String,
    meta_ad_id String,
    meta_ad_set_id String,
    meta_campaign_id String,
    meta_placement_id String,
    revenue Float64
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (event_type, workspace_id, timestamp)
SETTINGS non_replicated_deduplication_window = 10000;
