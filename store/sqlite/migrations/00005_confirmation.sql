-- Version 5: sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mTLS).
-- An identifier access token's confirmation binds it (store.Confirmation);
-- a grant's is in its JSON body.

-- +goose Up

ALTER TABLE access_tokens ADD COLUMN cnf_jkt TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN cnf_x5t_s256 TEXT NOT NULL DEFAULT '';
