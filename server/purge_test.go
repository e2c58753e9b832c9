package server

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/sqlite"
)

// purgeBackend is one store backend with a purger, opened empty.
type purgeBackend struct {
	name string
	open func(t *testing.T) (store.Durable, store.Ephemeral)
}

var purgeBackends = []purgeBackend{
	{"memstore", func(t *testing.T) (store.Durable, store.Ephemeral) {
		m, err := memstore.Open(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m.Durable(), m.Ephemeral()
	}},
	{"sqlite", func(t *testing.T) (store.Durable, store.Ephemeral) {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Durable(), db.Ephemeral()
	}},
	{"postgres", func(t *testing.T) (store.Durable, store.Ephemeral) {
		db, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Durable(), db.Ephemeral()
	}},
}

// purgeServer is a node reduced to what a purge tick needs, with clock now.
func purgeServer(d store.Durable, e store.Ephemeral, now time.Time, batch int) *Server {
	cfg := config.Default()
	cfg.Cluster.PurgeBatch = batch
	return &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), now: func() time.Time { return now },
		purgeJobs: []*purgeJob{{name: "durable", p: d.Purger}, {name: "ephemeral", p: e.Purger}}}
}

var purgeBase = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// seed stores n grants and n codes of the given prefix expiring at exp.
func seed(t *testing.T, d store.Durable, e store.Ephemeral, prefix string, n int, exp time.Time) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		g := &store.Grant{ID: id, Subject: "alice", ClientID: "c", CreatedAt: exp.Add(-time.Hour), ExpiresAt: exp}
		if err := d.Grants.Create(t.Context(), g); err != nil {
			t.Fatal(err)
		}
		c := &store.Code{ID: id, ClientID: "c", CreatedAt: exp.Add(-time.Minute), ExpiresAt: exp}
		if err := e.Codes.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// live reports whether grant and code id are still stored, asked at a time
// when both are valid.
func live(t *testing.T, d store.Durable, e store.Ephemeral, id string, at time.Time) (grant, code bool) {
	t.Helper()
	_, gerr := d.Grants.Get(t.Context(), id, at)
	_, cerr := e.Codes.Consume(t.Context(), id, at)
	for _, err := range []error{gerr, cerr} {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
	}
	return gerr == nil, cerr == nil
}

// TestPurgeTickDrainsBacklog: a backlog of several batches of expired
// records is gone after one tick (it used to take one tick per batch, so
// any expiry rate above cluster.purge_batch per interval grew the tables
// without bound), and the node counts what it removed.
func TestPurgeTickDrainsBacklog(t *testing.T) {
	for _, b := range purgeBackends {
		t.Run(b.name, func(t *testing.T) {
			d, e := b.open(t)
			const batch, backlog = 10, 35
			seed(t, d, e, "old", backlog, purgeBase.Add(-time.Hour))
			seed(t, d, e, "new", 3, purgeBase.Add(time.Hour))
			s := purgeServer(d, e, purgeBase, batch)
			s.purgeTick(t.Context())

			if got := s.Purged(); got["durable"] != backlog || got["ephemeral"] != backlog {
				t.Errorf("purged after one tick = %v, want %d of each", got, backlog)
			}
			for i := range backlog {
				id := fmt.Sprintf("old-%03d", i)
				if g, c := live(t, d, e, id, purgeBase.Add(-2*time.Hour)); g || c {
					t.Fatalf("%s survived the tick (grant %v, code %v)", id, g, c)
				}
			}
			for i := range 3 {
				id := fmt.Sprintf("new-%03d", i)
				if g, c := live(t, d, e, id, purgeBase); !g || !c {
					t.Errorf("live %s purged (grant kept %v, code kept %v)", id, g, c)
				}
			}
		})
	}
}

// TestPurgeMarginSparesSkewedClock: a node whose clock runs ahead of the
// others by less than cluster.purge_margin does not delete records that
// the others still treat as live.
func TestPurgeMarginSparesSkewedClock(t *testing.T) {
	for _, b := range purgeBackends {
		t.Run(b.name, func(t *testing.T) {
			d, e := b.open(t)
			// Live for the other nodes (their clock: purgeBase) for 10 s more.
			seed(t, d, e, "live", 3, purgeBase.Add(10*time.Second))
			seed(t, d, e, "dead", 3, purgeBase.Add(-2*time.Minute))
			margin := config.Default().Cluster.PurgeMargin
			ahead := margin / 2
			s := purgeServer(d, e, purgeBase.Add(ahead), 100)
			s.purgeTick(t.Context())

			for i := range 3 {
				id := fmt.Sprintf("live-%03d", i)
				if g, c := live(t, d, e, id, purgeBase); !g || !c {
					t.Errorf("a node %v ahead purged %s, live for the others (grant kept %v, code kept %v)", ahead, id, g, c)
				}
				id = fmt.Sprintf("dead-%03d", i)
				if g, c := live(t, d, e, id, purgeBase.Add(-3*time.Minute)); g || c {
					t.Errorf("%s, expired longer than the margin, survived (grant %v, code %v)", id, g, c)
				}
			}
		})
	}
}
