// Package storetest is the contract suite every store backend runs:
// RunDurable for the long-lived stores and RunEphemeral for the TTL stores.
// Each is a table of named subtests that exercises the semantics written in
// package store's doc comments (ErrExists, ErrNotFound, atomic Update,
// exactly-once Consume, expiry judged against the caller's time, cascades,
// purging, time and byte round trips, concurrency).
//
// A backend's test is a few lines:
//
//	func TestDurable(t *testing.T) {
//		storetest.RunDurable(t, func(t *testing.T) store.Durable { return newDB(t).Durable() })
//	}
//
// newStore is called once per subtest and must return an empty store; the
// subtests run one after another, so a backend may reuse one database and
// empty it in newStore.
//
// Times are fixed (Base) and passed explicitly; nothing sleeps. Maps of
// free-form data use JSON-native values (float64, string, bool, []any,
// map[string]any) because backends store them as JSON.
//
// This package imports package store, the standard library, testing and
// go-cmp; never a backend.
package storetest
