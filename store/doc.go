// Package store defines Keyward's storage contracts: the domain records that
// outlive a request, one narrow interface per aggregate, the sentinel errors
// every backend returns, and the Durable and Ephemeral aggregates that the
// server is built from.
//
// Semantics every backend must honour (tested by store/storetest):
//   - Create fails with ErrExists when the key is taken.
//   - Get returns an error wrapping ErrNotFound when the key is unknown or,
//     for records with an expiry, when the record has expired at the time
//     passed in by the caller.
//   - Update(ctx, key, now, fn) is atomic: fn sees the current record and its
//     changes are stored only if nobody changed the record meanwhile; a backend
//     retries fn or returns ErrConflict. An error from fn aborts the update and
//     is returned unchanged.
//   - Consume returns a single-use record exactly once; later calls return the
//     record together with ErrConsumed until it expires, so callers can revoke
//     what the first use issued.
//   - All times are UTC with at least millisecond precision. Expiry is judged
//     against the time the caller passes in, never the backend's clock.
//   - A write is visible to every later read through the same backend.
//   - Replay-cache keys arrive hashed by the caller (see ReplayCache) and
//     are stored as given.
//
// Backends live in sub-packages and share one shape: Open(ctx, [path, DSN
// or URL,] ...Option) (*Store, error) with a WithLogger option, Close()
// error, Ephemeral(), and Durable() unless the backend holds ephemeral
// objects only (Redis). They normalise every time they return with
// NormalizeTimes.
//
// Packages here import only the standard library and package oauth.
package store
