// Package sqlite is Keyward's default, embedded store backend: every
// durable and ephemeral store of package store in one SQLite file, through
// database/sql and the pure-Go modernc.org/sqlite driver (no cgo).
//
// The file runs in WAL mode with foreign keys on. Writes go through a pool
// of one connection whose transactions begin IMMEDIATE, so writers queue on
// the Go side instead of failing with SQLITE_BUSY; reads use a separate
// query-only pool and run beside the writer. Atomic Update is a
// read-modify-write inside one write transaction; Consume and MarkUsed are
// single statements. The schema is created and upgraded by forward-only
// migrations (migrations/*.sql, embedded, plus the few in migrate.go that
// SQL cannot express) through goose's Provider API. Tables, columns and
// indexes have the names of the PostgreSQL schema.
//
// This package imports package store, store/sqlstore, the standard library,
// its driver and goose; it must not import internal/ packages or another
// backend.
package sqlite
