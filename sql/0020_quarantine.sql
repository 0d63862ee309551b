-- Rows that failed validation, kept raw with the reason (Tinybird's quarantine datasources).
CREATE TABLE IF NOT EXISTS {{db}}.ecomm_events_quarantine
(
    row String,
    reason String,
    at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY at
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {{db}}.warehouse_stock_quarantine AS {{db}}.ecomm_events_quarantine;

CREATE TABLE IF NOT EXISTS {{db}}.products_quarantine AS {{db}}.ecomm_events_quarantine;

CREATE TABLE IF NOT EXISTS {{db}}.app_events_quarantine AS {{db}}.ecomm_events_quarantine;
