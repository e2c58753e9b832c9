package store

import (
	"context"
	"time"
)

// Purger removes records that expired at or before now, at most limit of
// each kind per call, and returns how many it removed. Servers call it
// again while a call comes back full, every purge interval, so that nothing
// grows without bound and no single statement locks a large table; they
// pass a now set back by cluster.purge_margin to allow for clock skew.
type Purger interface {
	Purge(ctx context.Context, now time.Time, limit int) (int, error)
}

// Durable is the set of long-lived stores, the source of truth of a
// deployment (SQLite embedded, PostgreSQL in a cluster).
type Durable struct {
	Clients        ClientStore
	Authorizations AuthorizationStore
	Grants         GrantStore
	RefreshTokens  RefreshTokenStore
	AccessTokens   AccessTokenStore
	Keys           KeyStore
	Revocations    RevocationJournal
	// Purger also removes expired revocation journal entries.
	Purger Purger
	// Notifier is nil for single-node backends.
	Notifier Notifier
}

// Ephemeral is the set of stores for short-lived objects with a TTL; the
// durable backend's or Redis.
type Ephemeral struct {
	AuthzSessions   AuthzSessionStore
	SubjectSessions SubjectSessionStore
	Codes           CodeStore
	PAR             PARStore
	Replay          ReplayCache
	Purger          Purger
}

// Notifier broadcasts small change notices ("keys rotated", "client X
// changed") between the nodes of a cluster, so that in-memory caches follow
// the store within a bounded time. Delivery is best effort: nodes also
// refresh periodically.
type Notifier interface {
	// Publish sends payload to every subscriber of topic, this node's included.
	Publish(ctx context.Context, topic, payload string) error
	// Subscribe delivers the payloads published on topic until ctx ends,
	// then closes the channel.
	Subscribe(ctx context.Context, topic string) (<-chan string, error)
}
