-- Version 2: index names as in the SQLite schema (<table>_<columns>), so
-- that both dialects name every table, column and shared index alike.
-- Renaming an index only changes the catalogue.

-- +goose Up

ALTER INDEX authorizations_client_idx RENAME TO authorizations_client;
ALTER INDEX grants_subject_idx RENAME TO grants_subject_created;
ALTER INDEX grants_client_idx RENAME TO grants_client_created;
ALTER INDEX grants_expires_idx RENAME TO grants_expires;
ALTER INDEX refresh_tokens_grant_idx RENAME TO refresh_tokens_grant;
ALTER INDEX refresh_tokens_expires_idx RENAME TO refresh_tokens_expires;
ALTER INDEX access_tokens_grant_idx RENAME TO access_tokens_grant;
ALTER INDEX access_tokens_expires_idx RENAME TO access_tokens_expires;
ALTER INDEX signing_keys_order_idx RENAME TO signing_keys_created;
ALTER INDEX signing_keys_retired_idx RENAME TO signing_keys_delete_after;
ALTER INDEX authz_sessions_expires_idx RENAME TO authz_sessions_expires;
ALTER INDEX subject_sessions_subject_idx RENAME TO subject_sessions_subject_created;
ALTER INDEX subject_sessions_expires_idx RENAME TO subject_sessions_expires;
ALTER INDEX codes_expires_idx RENAME TO codes_expires;
ALTER INDEX pushed_requests_expires_idx RENAME TO pushed_requests_expires;
ALTER INDEX replay_cache_expires_idx RENAME TO replay_cache_expires;
