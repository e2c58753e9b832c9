// Package postgres is the PostgreSQL backend of package store, built on
// pgx/v5 and pgxpool, for clusters of Keyward nodes: it implements every
// durable and every ephemeral store, and a store.Notifier over
// LISTEN/NOTIFY.
//
// The schema lives in migrations/*.sql (embedded, forward-only) and is
// applied by Open through goose's Provider API under a session advisory
// lock, so nodes that start together migrate once.
//
// Concurrency model:
//   - Single-use objects (codes, pushed requests, replay keys) are consumed
//     by one conditional UPDATE or INSERT … ON CONFLICT, so exactly one of
//     any number of concurrent callers wins without a transaction.
//   - Update(…, fn) reads the row with SELECT … FOR UPDATE, runs fn and
//     writes inside one transaction.
//   - KeyStore.AddIfEmpty and Rotate serialise on a transaction-scoped
//     advisory lock (pg_advisory_xact_lock), which also covers the empty
//     table that a row lock could not.
//   - Locks are taken in one order: a grant row before its tokens (a
//     grant's deletion cascades that way, and RefreshTokenStore.Rotate
//     locks the grant first), so revocation and rotation cannot deadlock.
//     Transactions aborted as deadlock victims or serialisation failures
//     are retried all the same.
//   - Purges delete in bounded batches by primary key, so no purge holds
//     locks on a large part of a table.
//
// Requires PostgreSQL 13 or later. Not CockroachDB-compatible as written:
// it relies on advisory locks (pg_advisory_xact_lock, and goose's session
// locker) and on LISTEN/NOTIFY, neither of which CockroachDB offers.
//
// This package imports package store, the standard library and its
// drivers (pgx, goose); it must not import internal/core, server or any
// other backend (not even store/sqlstore).
package postgres
