-- Keyward PostgreSQL schema, version 1. Forward-only: never edit a released
-- migration, add a new file instead. Runs on PostgreSQL 13+.
--
-- Conventions: times are timestamptz (UTC on the wire); NULL stands for the
-- Go zero time ("never"/"unset"); record bodies that the server only reads
-- back whole are stored as json (kept verbatim, unlike jsonb). Every lookup
-- path and every purge predicate has an index.

-- +goose Up

-- Durable records.

CREATE TABLE clients (
    id                      text PRIMARY KEY,
    secret_hash             bytea,
    secret_sealed           bytea,
    secret_expires_at       timestamptz,
    registration_token_hash bytea,
    metadata                json NOT NULL,
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL
);

CREATE TABLE authorizations (
    subject    text NOT NULL,
    client_id  text NOT NULL,
    consented  json NOT NULL,
    tokens     json NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (subject, client_id)
);
-- Lookup by client alone; by subject the primary key serves.
CREATE INDEX authorizations_client_idx ON authorizations (client_id);

CREATE TABLE grants (
    id                 text PRIMARY KEY,
    subject            text NOT NULL,
    client_id          text NOT NULL,
    consented          json NOT NULL,
    tokens             json NOT NULL,
    long_lived         boolean NOT NULL,
    subject_session_id text NOT NULL,
    auth_time          timestamptz,
    acr                text NOT NULL,
    amr                text[],
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz
);
CREATE INDEX grants_subject_idx ON grants (subject, created_at);
CREATE INDEX grants_client_idx ON grants (client_id, created_at);
CREATE INDEX grants_expires_idx ON grants (expires_at) WHERE expires_at IS NOT NULL;

-- Tokens hang off their grant: deleting the grant revokes them.
CREATE TABLE refresh_tokens (
    id           text PRIMARY KEY,
    grant_id     text NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id    text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    rotated_at   timestamptz
);
CREATE INDEX refresh_tokens_grant_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE access_tokens (
    id         text PRIMARY KEY,
    grant_id   text NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id  text NOT NULL,
    subject    text NOT NULL,
    scope      text[],
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX access_tokens_grant_idx ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

-- seq orders keys by insertion even when several share a created_at.
CREATE TABLE signing_keys (
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    id             text PRIMARY KEY,
    alg            text NOT NULL,
    public_jwk     bytea NOT NULL,
    private_sealed bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    retired_at     timestamptz,
    delete_after   timestamptz
);
CREATE INDEX signing_keys_order_idx ON signing_keys (created_at, seq);
CREATE INDEX signing_keys_retired_idx ON signing_keys (delete_after) WHERE retired_at IS NOT NULL;

-- Ephemeral records: the body is the JSON encoding of the store record.

CREATE TABLE authz_sessions (
    id         text PRIMARY KEY,
    body       json NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX authz_sessions_expires_idx ON authz_sessions (expires_at);

-- expires_at NULL: a session whose lifetimes are all unlimited.
CREATE TABLE subject_sessions (
    id         text PRIMARY KEY,
    subject    text NOT NULL,
    body       json NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);
CREATE INDEX subject_sessions_subject_idx ON subject_sessions (subject, created_at);
CREATE INDEX subject_sessions_expires_idx ON subject_sessions (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE codes (
    id          text PRIMARY KEY,
    body        json NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz
);
CREATE INDEX codes_expires_idx ON codes (expires_at);

CREATE TABLE pushed_requests (
    id          text PRIMARY KEY,
    body        json NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz
);
CREATE INDEX pushed_requests_expires_idx ON pushed_requests (expires_at);

CREATE TABLE replay_cache (
    key        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX replay_cache_expires_idx ON replay_cache (expires_at);
