-- Version 4: sender-constrained tokens (RFC 9449 DPoP, RFC 8705 mTLS).
-- A grant's confirmation binds its refresh tokens, an identifier access
-- token's binds the token (store.Confirmation).

-- +goose Up

ALTER TABLE grants ADD COLUMN cnf_jkt text NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN cnf_x5t_s256 text NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN cnf_jkt text NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN cnf_x5t_s256 text NOT NULL DEFAULT '';

