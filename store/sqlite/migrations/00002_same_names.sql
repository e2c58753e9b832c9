-- Version 2: the names of the PostgreSQL schema. The replay cache is the
-- table replay_cache with expires_at, like every other expiring table; the
-- public key column is public_jwk. Keys of the old replay table are
-- rewritten into replay_cache by Go migration 3 (migrate.go), which also
-- drops the old table: they must be hashed, which SQLite cannot do.

-- +goose Up

CREATE TABLE replay_cache (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX replay_cache_expires ON replay_cache (expires_at);

ALTER TABLE signing_keys RENAME COLUMN public TO public_jwk;
