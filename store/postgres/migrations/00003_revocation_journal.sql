-- Version 3: the revocation journal (store.RevocationJournal), with the
-- table and index names of SQLite version 4.

-- +goose Up

CREATE TABLE revocations (
    id         text PRIMARY KEY,
    kind       text NOT NULL,
    subject    text NOT NULL,
    client_id  text NOT NULL,
    actor      text NOT NULL,
    token_id   text NOT NULL,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revocations_expires ON revocations (expires_at);
