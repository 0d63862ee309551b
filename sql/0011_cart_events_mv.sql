-- cart events only, ordered for per-workspace time-range reads. Analytics of the cart app read only this.
CREATE TABLE IF NOT EXISTS {{db}}.cart_events_mv
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
ORDER BY (workspace_id, timestamp)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.cart_events_pipe TO {{db}}.cart_events_mv AS
SELECT * FROM {{db}}.app_events WHERE event_type = 'cart';
