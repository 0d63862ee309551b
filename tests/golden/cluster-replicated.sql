CREATE DATABASE IF NOT EXISTS sightline ON CLUSTER sightline_cluster;
CREATE TABLE IF NOT EXISTS sightline.schema_migrations ON CLUSTER sightline_cluster
(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplicatedReplacingMergeTree ORDER BY version;

-- 0001_ecomm_events
CREATE TABLE IF NOT EXISTS sightline.ecomm_events ON CLUSTER sightline_cluster
(
    timestamp DateTime('UTC'),
    event LowCardinality(String),
    product String
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYear(timestamp)
ORDER BY (event, product, timestamp)
SETTINGS replicated_deduplication_window = 10000;

-- 0002_products
CREATE TABLE IF NOT EXISTS sightline.products ON CLUSTER sightline_cluster
(
    category String,
    id String,
    name String,
    photo String,
    price Float64,
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree(version)
ORDER BY (category, id)
SETTINGS replicated_deduplication_window = 10000;

-- 0003_warehouse_stock
CREATE TABLE IF NOT EXISTS sightline.warehouse_stock ON CLUSTER sightline_cluster
(
    timestamp DateTime('UTC'),
    product String,
    store String,
    amount Int32
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYear(timestamp)
ORDER BY (timestamp, product)
SETTINGS replicated_deduplication_window = 10000;

-- 0004_mv_latest_availability
CREATE TABLE IF NOT EXISTS sightline.mv_latest_availability ON CLUSTER sightline_cluster
(
    product String,
    available_stock SimpleAggregateFunction(sum, Int64)
)
ENGINE = ReplicatedAggregatingMergeTree
ORDER BY product
SETTINGS replicated_deduplication_window = 10000;

-- 0005_mat_stock_sales
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_stock_sales ON CLUSTER sightline_cluster TO sightline.mv_latest_availability AS
SELECT product, sumSimpleState(toInt64(-1)) AS available_stock
FROM sightline.ecomm_events
WHERE event = 'sale'
GROUP BY product;

-- 0006_mat_stock_wh
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_stock_wh ON CLUSTER sightline_cluster TO sightline.mv_latest_availability AS
SELECT product, sumSimpleState(toInt64(amount)) AS available_stock
FROM sightline.warehouse_stock
GROUP BY product;

-- 0007_ecomm_rollup_minute
CREATE TABLE IF NOT EXISTS sightline.ecomm_rollup_minute ON CLUSTER sightline_cluster
(
    bucket DateTime('UTC'),
    product String,
    views SimpleAggregateFunction(sum, UInt64),
    carts SimpleAggregateFunction(sum, UInt64),
    sales SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (product, bucket)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_ecomm_rollup_minute ON CLUSTER sightline_cluster TO sightline.ecomm_rollup_minute AS
SELECT
    toStartOfMinute(timestamp) AS bucket,
    product,
    sumSimpleState(toUInt64(event = 'view')) AS views,
    sumSimpleState(toUInt64(event = 'cart')) AS carts,
    sumSimpleState(toUInt64(event = 'sale')) AS sales
FROM sightline.ecomm_events
GROUP BY bucket, product;

-- 0008_ecomm_rollup_hour
CREATE TABLE IF NOT EXISTS sightline.ecomm_rollup_hour ON CLUSTER sightline_cluster
(
    bucket DateTime('UTC'),
    product String,
    views SimpleAggregateFunction(sum, UInt64),
    carts SimpleAggregateFunction(sum, UInt64),
    sales SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (product, bucket)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_ecomm_rollup_hour ON CLUSTER sightline_cluster TO sightline.ecomm_rollup_hour AS
SELECT
    toStartOfHour(timestamp) AS bucket,
    product,
    sumSimpleState(toUInt64(event = 'view')) AS views,
    sumSimpleState(toUInt64(event = 'cart')) AS carts,
    sumSimpleState(toUInt64(event = 'sale')) AS sales
FROM sightline.ecomm_events
GROUP BY bucket, product;

-- 0009_ecomm_rollup_day
CREATE TABLE IF NOT EXISTS sightline.ecomm_rollup_day ON CLUSTER sightline_cluster
(
    bucket DateTime('UTC'),
    product String,
    views SimpleAggregateFunction(sum, UInt64),
    carts SimpleAggregateFunction(sum, UInt64),
    sales SimpleAggregateFunction(sum, UInt64)
)
ENGINE = ReplicatedAggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (product, bucket)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_ecomm_rollup_day ON CLUSTER sightline_cluster TO sightline.ecomm_rollup_day AS
SELECT
    toStartOfDay(timestamp) AS bucket,
    product,
    sumSimpleState(toUInt64(event = 'view')) AS views,
    sumSimpleState(toUInt64(event = 'cart')) AS carts,
    sumSimpleState(toUInt64(event = 'sale')) AS sales
FROM sightline.ecomm_events
GROUP BY bucket, product;

-- 0010_app_events
CREATE TABLE IF NOT EXISTS sightline.app_events ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (event_type, workspace_id, timestamp)
SETTINGS replicated_deduplication_window = 10000;

-- 0011_cart_events_mv
CREATE TABLE IF NOT EXISTS sightline.cart_events_mv ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (workspace_id, timestamp)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.cart_events_pipe ON CLUSTER sightline_cluster TO sightline.cart_events_mv AS
SELECT * FROM sightline.app_events WHERE event_type = 'cart';

-- 0012_fm_events_mv
CREATE TABLE IF NOT EXISTS sightline.fm_events_mv ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (workspace_id, timestamp)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.fm_events_pipe ON CLUSTER sightline_cluster TO sightline.fm_events_mv AS
SELECT * FROM sightline.app_events WHERE event_type = 'fm';

-- 0013_link_events_mv
CREATE TABLE IF NOT EXISTS sightline.link_events_mv ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (workspace_id, timestamp)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.link_events_pipe ON CLUSTER sightline_cluster TO sightline.link_events_mv AS
SELECT * FROM sightline.app_events WHERE event_type = 'link';

-- 0014_page_events_mv
CREATE TABLE IF NOT EXISTS sightline.page_events_mv ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (workspace_id, timestamp)
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.page_events_pipe ON CLUSTER sightline_cluster TO sightline.page_events_mv AS
SELECT * FROM sightline.app_events WHERE event_type = 'page';

-- 0020_quarantine
CREATE TABLE IF NOT EXISTS sightline.ecomm_events_quarantine ON CLUSTER sightline_cluster
(
    row String,
    reason String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree
ORDER BY at
SETTINGS replicated_deduplication_window = 10000;
CREATE TABLE IF NOT EXISTS sightline.warehouse_stock_quarantine ON CLUSTER sightline_cluster AS sightline.ecomm_events_quarantine;
CREATE TABLE IF NOT EXISTS sightline.products_quarantine ON CLUSTER sightline_cluster AS sightline.ecomm_events_quarantine;
CREATE TABLE IF NOT EXISTS sightline.app_events_quarantine ON CLUSTER sightline_cluster AS sightline.ecomm_events_quarantine;

-- 0030_tokens
CREATE TABLE IF NOT EXISTS sightline.tokens ON CLUSTER sightline_cluster
(
    name String,
    hash String,
    scopes Array(String),
    workspace_id String,
    created_at DateTime64(3, 'UTC'),
    expires_at Nullable(DateTime64(3, 'UTC')),
    revoked UInt8,
    version UInt64
)
ENGINE = ReplicatedReplacingMergeTree(version)
ORDER BY name;

-- 0040_service_log
CREATE TABLE IF NOT EXISTS sightline.operation_log ON CLUSTER sightline_cluster
(
    at DateTime64(3, 'UTC'),
    request_id String,
    operation String,
    token String,
    duration_ms Float64,
    rows_read UInt64,
    bytes_read UInt64,
    error_code LowCardinality(String)
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY (operation, at)
TTL toDateTime(at) + INTERVAL 30 DAY;
CREATE TABLE IF NOT EXISTS sightline.ingest_log ON CLUSTER sightline_cluster
(
    at DateTime64(3, 'UTC'),
    table LowCardinality(String),
    rows UInt32,
    quarantined UInt32,
    duration_ms Float64,
    token String,
    deduplicated UInt8
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY at
TTL toDateTime(at) + INTERVAL 30 DAY;
CREATE TABLE IF NOT EXISTS sightline.error_log ON CLUSTER sightline_cluster
(
    at DateTime64(3, 'UTC'),
    request_id String,
    operation String,
    code LowCardinality(String),
    message String
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMMDD(at)
ORDER BY at
TTL toDateTime(at) + INTERVAL 30 DAY;

-- 0050_stock_changes
CREATE TABLE IF NOT EXISTS sightline.stock_changes ON CLUSTER sightline_cluster
(
    change_id UUID,
    product String,
    delta Int64,
    inserted_at DateTime64(6, 'UTC')
)
ENGINE = ReplicatedMergeTree
PARTITION BY toYYYYMMDD(inserted_at)
ORDER BY (inserted_at, product)
TTL toDateTime(inserted_at) + INTERVAL 1 DAY
SETTINGS replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_stock_changes_sales ON CLUSTER sightline_cluster TO sightline.stock_changes AS
SELECT generateUUIDv4() AS change_id, product, -toInt64(count()) AS delta, now64(6) AS inserted_at
FROM sightline.ecomm_events
WHERE event = 'sale'
GROUP BY product;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_stock_changes_wh ON CLUSTER sightline_cluster TO sightline.stock_changes AS
SELECT generateUUIDv4() AS change_id, product, sum(toInt64(amount)) AS delta, now64(6) AS inserted_at
FROM sightline.warehouse_stock
GROUP BY product;

-- 0060_ingest_batches
CREATE TABLE IF NOT EXISTS sightline.ingest_batches ON CLUSTER sightline_cluster
(
    table LowCardinality(String),
    key String,
    accepted UInt32,
    quarantined UInt32,
    errors String,
    at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree(at)
ORDER BY (table, key)
TTL toDateTime(at) + INTERVAL 30 DAY;

-- 0070_batch_ids
ALTER TABLE sightline.ecomm_events ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.warehouse_stock ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.products ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.app_events ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.ecomm_events_quarantine ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.warehouse_stock_quarantine ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.products_quarantine ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.app_events_quarantine ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.cart_events_mv ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.fm_events_mv ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.link_events_mv ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.page_events_mv ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.stock_changes ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS _batch String MATERIALIZED '';
ALTER TABLE sightline.cart_events_pipe ON CLUSTER sightline_cluster MODIFY QUERY
SELECT *, _batch FROM sightline.app_events WHERE event_type = 'cart';
ALTER TABLE sightline.fm_events_pipe ON CLUSTER sightline_cluster MODIFY QUERY
SELECT *, _batch FROM sightline.app_events WHERE event_type = 'fm';
ALTER TABLE sightline.link_events_pipe ON CLUSTER sightline_cluster MODIFY QUERY
SELECT *, _batch FROM sightline.app_events WHERE event_type = 'link';
ALTER TABLE sightline.page_events_pipe ON CLUSTER sightline_cluster MODIFY QUERY
SELECT *, _batch FROM sightline.app_events WHERE event_type = 'page';
ALTER TABLE sightline.mat_stock_changes_sales ON CLUSTER sightline_cluster MODIFY QUERY
SELECT generateUUIDv4() AS change_id, product, -toInt64(count()) AS delta, now64(6) AS inserted_at, _batch
FROM sightline.ecomm_events
WHERE event = 'sale'
GROUP BY product, _batch;
ALTER TABLE sightline.mat_stock_changes_wh ON CLUSTER sightline_cluster MODIFY QUERY
SELECT generateUUIDv4() AS change_id, product, sum(toInt64(amount)) AS delta, now64(6) AS inserted_at, _batch
FROM sightline.warehouse_stock
GROUP BY product, _batch;
ALTER TABLE sightline.mat_stock_sales ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(-sale)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, event = 'sale' AS sale, _batch FROM sightline.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '';
ALTER TABLE sightline.mat_stock_wh ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(amount)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, amount, _batch FROM sightline.warehouse_stock)
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';
ALTER TABLE sightline.mat_ecomm_rollup_minute ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfMinute(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';
ALTER TABLE sightline.mat_ecomm_rollup_hour ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfHour(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';
ALTER TABLE sightline.mat_ecomm_rollup_day ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfDay(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '';

-- 0071_batch_index
ALTER TABLE sightline.ecomm_events ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.warehouse_stock ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.products ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.app_events ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.cart_events_mv ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.fm_events_mv ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.link_events_mv ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.page_events_mv ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;
ALTER TABLE sightline.stock_changes ON CLUSTER sightline_cluster ADD INDEX IF NOT EXISTS batch_idx _batch TYPE bloom_filter GRANULARITY 1;

-- 0072_batch_marker_ttl
ALTER TABLE sightline.mv_latest_availability ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE sightline.ecomm_rollup_minute ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE sightline.ecomm_rollup_hour ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE sightline.ecomm_rollup_day ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS marked_at DateTime MATERIALIZED now();
ALTER TABLE sightline.mv_latest_availability ON CLUSTER sightline_cluster MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE sightline.ecomm_rollup_minute ON CLUSTER sightline_cluster MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE sightline.ecomm_rollup_hour ON CLUSTER sightline_cluster MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;
ALTER TABLE sightline.ecomm_rollup_day ON CLUSTER sightline_cluster MODIFY TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS materialize_ttl_after_modify = 0;

-- 0073_batch_recovered
ALTER TABLE sightline.ingest_batches ON CLUSTER sightline_cluster ADD COLUMN IF NOT EXISTS recovered UInt8 DEFAULT 0;

-- 0080_ecomm_sales_second
CREATE TABLE IF NOT EXISTS sightline.ecomm_sales_second ON CLUSTER sightline_cluster
(
    second DateTime('UTC'),
    product String,
    sales SimpleAggregateFunction(sum, UInt64),
    marked_at DateTime MATERIALIZED now(),
    INDEX marker_idx product TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplicatedAggregatingMergeTree
PARTITION BY toYYYYMM(second)
ORDER BY (second, product)
TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(product, '\0')
SETTINGS replicated_deduplication_window = 10000;
ALTER TABLE sightline.ecomm_sales_second ON CLUSTER sightline_cluster DELETE WHERE 1 SETTINGS mutations_sync = 2;
INSERT INTO sightline.ecomm_sales_second (second, product, sales)
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM sightline.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != ''
SETTINGS max_partitions_per_insert_block = 0, insert_deduplicate = 0;
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_ecomm_sales_second ON CLUSTER sightline_cluster TO sightline.ecomm_sales_second AS
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM sightline.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '';

-- 0081_app_events_hourly
CREATE TABLE IF NOT EXISTS sightline.app_events_hourly ON CLUSTER sightline_cluster
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
ENGINE = ReplicatedAggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (event_type, workspace_id, dimension, bucket, value, action)
TTL marked_at + INTERVAL 30 DAY DELETE WHERE startsWith(value, '\0')
SETTINGS replicated_deduplication_window = 10000;
ALTER TABLE sightline.app_events_hourly ON CLUSTER sightline_cluster DELETE WHERE 1 SETTINGS mutations_sync = 2;
INSERT INTO sightline.app_events_hourly (event_type, workspace_id, dimension, value, bucket, action, events, revenue, sessions, visitors)
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
    FROM sightline.app_events
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
CREATE MATERIALIZED VIEW IF NOT EXISTS sightline.mat_app_events_hourly ON CLUSTER sightline_cluster TO sightline.app_events_hourly AS
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
    FROM sightline.app_events
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

-- 0082_write_ids
ALTER TABLE sightline.mat_stock_sales ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(-sale)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, event = 'sale' AS sale, _batch FROM sightline.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '' AND NOT startsWith(_batch, 'w');
ALTER TABLE sightline.mat_stock_wh ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toInt64(amount)), sumSimpleState(toInt64(0))) AS available_stock
FROM (SELECT product AS p, amount, _batch FROM sightline.warehouse_stock)
GROUP BY GROUPING SETS ((p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');
ALTER TABLE sightline.mat_ecomm_rollup_minute ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfMinute(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');
ALTER TABLE sightline.mat_ecomm_rollup_hour ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfHour(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');
ALTER TABLE sightline.mat_ecomm_rollup_day ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(b) AS bucket,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'view')), sumSimpleState(toUInt64(0))) AS views,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'cart')), sumSimpleState(toUInt64(0))) AS carts,
    if(grouping(p) = 0, sumSimpleState(toUInt64(event = 'sale')), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT toStartOfDay(timestamp) AS b, product AS p, event, _batch FROM sightline.ecomm_events)
GROUP BY GROUPING SETS ((b, p), (_batch))
HAVING grouping(p) = 0 OR _batch != '' AND NOT startsWith(_batch, 'w');
ALTER TABLE sightline.mat_ecomm_sales_second ON CLUSTER sightline_cluster MODIFY QUERY
SELECT
    min(s) AS second,
    if(grouping(p) = 0, p, concat('\0', _batch)) AS product,
    if(grouping(p) = 0, sumSimpleState(toUInt64(sale)), sumSimpleState(toUInt64(0))) AS sales
FROM (SELECT timestamp AS s, product AS p, event = 'sale' AS sale, _batch FROM sightline.ecomm_events WHERE event = 'sale' OR _batch != '')
GROUP BY GROUPING SETS ((s, p), (_batch))
HAVING grouping(p) = 0 AND sum(sale) > 0 OR grouping(p) = 1 AND _batch != '' AND NOT startsWith(_batch, 'w');

-- 0090_tinybird_service_data
CREATE VIEW IF NOT EXISTS sightline.tinybird_pipe_stats_rt ON CLUSTER sightline_cluster AS
SELECT
    toDateTime(at, 'UTC') AS start_datetime,
    operation AS pipe_id,
    pipe_id AS pipe_name,
    toFloat32(duration_ms / 1000) AS duration,
    bytes_read AS read_bytes,
    rows_read AS read_rows,
    toUInt8(CAST(error_code, 'String') != '') AS error,
    request_id,
    token AS token_name,
    toInt32(if(CAST(error_code, 'String') = '', 200, transform(CAST(error_code, 'String'),
        ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'STORE_UNAVAILABLE', 'STORE_BUSY', 'QUERY_TIMEOUT', 'VALUE_OUT_OF_RANGE'],
        [403, 403, 400, 429, 413, 503, 503, 504, 500], 500))) AS status_code
FROM sightline.operation_log;
CREATE VIEW IF NOT EXISTS sightline.tinybird_pipe_stats ON CLUSTER sightline_cluster AS
SELECT
    toDate(start_datetime) AS date,
    pipe_id,
    pipe_name,
    count() AS view_count,
    countIf(error = 1) AS error_count,
    avgState(duration) AS avg_duration_state,
    quantilesTimingState(0.9, 0.95, 0.99)(toFloat64(duration) * 1000) AS quantile_timing_state,
    sum(read_bytes) AS read_bytes_sum,
    sum(read_rows) AS read_rows_sum
FROM sightline.tinybird_pipe_stats_rt
GROUP BY date, pipe_id, pipe_name;
CREATE VIEW IF NOT EXISTS sightline.tinybird_datasources_ops_log ON CLUSTER sightline_cluster AS
SELECT
    toDateTime(at, 'UTC') AS timestamp,
    'append' AS event_type,
    replaceRegexpOne(CAST(table, 'String'), '^[^.]*[.]', '') AS datasource_id,
    datasource_id AS datasource_name,
    'ok' AS result,
    toFloat32(duration_ms / 1000) AS elapsed_time,
    toUInt64(rows) AS rows,
    toUInt64(quarantined) AS rows_quarantine,
    toUInt64(rows) AS written_rows,
    toUInt64(quarantined) AS written_rows_quarantine,
    token AS token_name
FROM sightline.ingest_log;
CREATE VIEW IF NOT EXISTS sightline.tinybird_endpoint_errors ON CLUSTER sightline_cluster AS
SELECT
    toDateTime(at, 'UTC') AS start_datetime,
    request_id,
    operation AS pipe_id,
    pipe_id AS pipe_name,
    toInt32(transform(CAST(code, 'String'),
        ['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'RATE_LIMITED', 'PAYLOAD_TOO_LARGE', 'STORE_UNAVAILABLE', 'STORE_BUSY', 'QUERY_TIMEOUT', 'VALUE_OUT_OF_RANGE'],
        [403, 403, 400, 429, 413, 503, 503, 504, 500], 500)) AS status_code,
    message AS error
FROM sightline.error_log;
