-- Version 4: the revocation journal (store.RevocationJournal). Version 3
-- is the Go migration in migrate.go.

-- +goose Up

CREATE TABLE revocations (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    actor      TEXT NOT NULL,
    token_id   TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revocations_expires ON revocations (expires_at);
