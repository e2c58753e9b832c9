-- Keyward schema, version 1. Times are Unix milliseconds (NULL: never);
-- record bodies that are never queried by are JSON text.

-- +goose Up

-- Durable

CREATE TABLE clients (
    id                      TEXT PRIMARY KEY,
    secret_hash             BLOB,
    secret_sealed           BLOB,
    secret_expires_at       INTEGER,
    registration_token_hash BLOB,
    metadata                TEXT NOT NULL,
    created_at              INTEGER,
    updated_at              INTEGER
);

CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE INDEX grants_subject_created ON grants (subject, created_at);
CREATE INDEX grants_client_created ON grants (client_id, created_at);
CREATE INDEX grants_expires ON grants (expires_at);

CREATE TABLE authorizations (
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (subject, client_id)
);
CREATE INDEX authorizations_client ON authorizations (client_id);

CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    grant_id     TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL,
    created_at   INTEGER,
    expires_at   INTEGER,
    last_used_at INTEGER,
    rotated_at   INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    id         TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    public         BLOB NOT NULL,
    private_sealed BLOB NOT NULL,
    created_at     INTEGER,
    retired_at     INTEGER,
    delete_after   INTEGER
);
CREATE INDEX signing_keys_created ON signing_keys (created_at);
CREATE INDEX signing_keys_alg_retired ON signing_keys (alg, retired_at);
CREATE INDEX signing_keys_delete_after ON signing_keys (delete_after);

-- Ephemeral

CREATE TABLE authz_sessions (
    id         TEXT PRIMARY KEY,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE INDEX authz_sessions_expires ON authz_sessions (expires_at);

CREATE TABLE subject_sessions (
    id         TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    created_at INTEGER,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE INDEX subject_sessions_subject_created ON subject_sessions (subject, created_at);
CREATE INDEX subject_sessions_expires ON subject_sessions (expires_at);

CREATE TABLE codes (
    id         TEXT PRIMARY KEY,
    consumed   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE INDEX codes_expires ON codes (expires_at);

CREATE TABLE pushed_requests (
    id         TEXT PRIMARY KEY,
    consumed   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    body       TEXT NOT NULL
);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);

CREATE TABLE replay (
    key   TEXT PRIMARY KEY,
    until INTEGER NOT NULL
);
CREATE INDEX replay_until ON replay (until);
