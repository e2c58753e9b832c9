// Package memstore is the in-memory store backend: every durable and
// ephemeral store of package store plus an in-process Notifier, kept in
// mutex-protected maps. It serves development, single-process demos and
// unit tests of the core; nothing survives a restart.
//
// Records are deep-copied on the way in and out (through their JSON form,
// as the SQL backends store them), so callers never alias stored state and
// free-form maps come back with JSON-native values just as from SQL.
//
// This package imports package store and the standard library only; it must
// not import another backend or anything under internal/.
package memstore
