// Package redis is the Redis backend for Keyward's EPHEMERAL stores only
// (authorisation sessions, subject sessions, codes, pushed requests, the
// replay cache) plus a store.Notifier over pub/sub, built on go-redis/v9.
// Durable records never go to Redis.
//
// Layout, under a key prefix (default "keyward:"):
//
//	authz:<id>     string, JSON authorisation session
//	ss:<id>        string, JSON subject session
//	ssub:<subject> sorted set of subject-session IDs, scored by creation time
//	code:<id>      hash {b: JSON code, c: consumed flag, e: expiry µs}
//	par:<id>       hash, as code
//	parc:<client>  sorted set of a client's pushed-request IDs, scored by key expiry (for DeleteByClient)
//	jti:<key>      string, expiry µs of a replay-cache entry (the key is the hex SHA-256 the core passes)
//	notify:<topic> pub/sub channel
//
// Expiry. Every key gets a native expiry (PEXPIREAT at the record's
// ExpiresAt plus a grace for clock skew, 5 s or WithExpiryGrace) so Redis frees memory
// by itself, and updates move it with ExpiresAt (the subject-session idle
// timer). The expiry is only a backstop: whether a record is live is judged
// against the time the caller passes in, compared with the ExpiresAt kept
// in the record. Consumed codes and pushed requests stay until they expire,
// so a replay is recognised.
//
// Atomicity. Consume and MarkUsed are Lua scripts (single atomic steps);
// Update is WATCH/MULTI with bounded retries, then ErrConflict.
//
// Requires Redis 7.0 or later (PEXPIRETIME), with maxmemory-policy
// noeviction: Open warns otherwise, since an evicted key loses state that
// must live until it expires.
//
// This package imports package store, the standard library and go-redis;
// it must not import internal/core, server or another backend.
package redis
