-- Consumers and API keys made through the admin API. Times are unix milliseconds (one integer
-- type on both backends); groups and metadata are JSON text.
CREATE TABLE consumers (
    name TEXT PRIMARY KEY,
    plan TEXT,
    groups_json TEXT NOT NULL DEFAULT '[]',
    metadata_json TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Only the sha256 of a key is kept (lowercase hex) and a short prefix to recognise it by.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL REFERENCES consumers(name) ON DELETE CASCADE,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX api_keys_consumer ON api_keys(consumer);
