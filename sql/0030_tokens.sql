-- API tokens. Only the SHA-256 of a secret is stored; a revocation is a newer version of the row.
CREATE TABLE IF NOT EXISTS {{db}}.tokens
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
ENGINE = ReplacingMergeTree(version)
ORDER BY name;
