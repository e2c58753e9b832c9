package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
	kwredis "github.com/keyward/keyward/store/redis"
	"github.com/keyward/keyward/store/redis/redistest"
	"github.com/keyward/keyward/store/storetest"
)

var base = storetest.Base

// backend is one Redis the tests run against.
type backend struct {
	name string
	// open returns a store with a private key space.
	open func(t *testing.T) *kwredis.Store
}

func openStore(t *testing.T, url string, opts ...kwredis.Option) *kwredis.Store {
	t.Helper()
	s, err := kwredis.Open(t.Context(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func miniBackend(t *testing.T) *kwredis.Store {
	m := miniredis.RunT(t)
	return openStore(t, "redis://"+m.Addr()+"/0")
}

func realBackend(t *testing.T) *kwredis.Store {
	url, prefix := redistest.NewURL(t)
	return openStore(t, url, kwredis.WithPrefix(prefix))
}

var backends = []backend{
	{"miniredis", miniBackend},
	{"redis", realBackend},
}

func TestEphemeralContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return b.open(t).Ephemeral() })
		})
	}
}

// Two handles (as two nodes) race to consume one code: exactly one wins.
func TestConsumeRaceAcrossHandles(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			if err := s.Ephemeral().Codes.Create(t.Context(), &store.Code{ID: "c", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
			const racers = 16
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() { _, errs[i] = s.Ephemeral().Codes.Consume(t.Context(), "c", base) })
			}
			wg.Wait()
			storetest.WantOneWinner(t, "consume", errs)
		})
	}
}

// Keys expire at the record's ExpiresAt plus the skew grace (subject
// sessions: plus SubjectSessionKeep, for the expiry notifications), and
// updates move the expiry (the subject-session idle timer).
func TestTTLs(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetTime(base) // miniredis's clock: TTLs below are relative to it
	const grace = 5 * time.Second
	s := openStore(t, "redis://"+m.Addr()+"/0", kwredis.WithPrefix("p:"))
	e := s.Ephemeral()
	ctx := t.Context()

	ss := &store.SubjectSession{ID: "s1", Subject: "alice", CreatedAt: base, LastUsedAt: base, ExpiresAt: base.Add(10 * time.Minute)}
	if err := e.SubjectSessions.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if err := e.Codes.Create(ctx, &store.Code{ID: "c1", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Replay.MarkUsed(ctx, storetest.ReplayKey("jti1"), base.Add(5*time.Minute), base); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"p:ss:s1":                              10*time.Minute + kwredis.SubjectSessionKeep + grace,
		"p:ssub:alice":                         10*time.Minute + kwredis.SubjectSessionKeep + grace,
		"p:code:c1":                            time.Minute + grace,
		"p:jti:" + storetest.ReplayKey("jti1"): 5*time.Minute + grace,
	}
	got := map[string]time.Duration{}
	for k := range want {
		got[k] = m.TTL(k)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("TTLs after create (-want +got):\n%s", d)
	}

	// Eight minutes later the session is used; idle timer moves expiry.
	now := base.Add(8 * time.Minute)
	if _, err := e.SubjectSessions.Update(ctx, "s1", now, func(ss *store.SubjectSession) error {
		ss.LastUsedAt = now
		ss.ExpiresAt = now.Add(10 * time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := m.TTL("p:ss:s1"), 18*time.Minute+kwredis.SubjectSessionKeep+grace; got != want {
		t.Errorf("session TTL after update = %v, want %v", got, want)
	}
	if got, want := m.TTL("p:ssub:alice"), 18*time.Minute+kwredis.SubjectSessionKeep+grace; got != want {
		t.Errorf("index TTL after update = %v, want %v (extended)", got, want)
	}

	// Once Redis drops the session key, listing cleans the index.
	m.Del("p:ss:s1")
	if _, err := e.SubjectSessions.ListBySubject(ctx, "alice", base); err != nil {
		t.Fatal(err)
	}
	if m.Exists("p:ssub:alice") {
		members, _ := m.ZMembers("p:ssub:alice")
		t.Errorf("index still holds %v after its sessions expired", members)
	}
}

// WithExpiryGrace (cluster.purge_margin) sets how long Redis keeps a
// record past its expiry, the margin the SQL purges keep for clock skew.
func TestExpiryGraceOption(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetTime(base)
	s := openStore(t, "redis://"+m.Addr()+"/0", kwredis.WithPrefix("p:"), kwredis.WithExpiryGrace(time.Minute))
	e := s.Ephemeral()
	if err := e.Codes.Create(t.Context(), &store.Code{ID: "c1", CreatedAt: base, ExpiresAt: base.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := e.PAR.Create(t.Context(), &store.PushedRequest{ID: "r1", ClientID: "c", CreatedAt: base, ExpiresAt: base.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"p:code:c1", "p:par:r1", "p:parc:c"} {
		if got, want := m.TTL(k), 10*time.Second+time.Minute; got != want {
			t.Errorf("TTL of %s = %v, want %v", k, got, want)
		}
	}
}

// Purge returns 0 (Redis expires records itself) but trims index members
// whose session is gone.
func TestPurgeCleansIndex(t *testing.T) {
	m := miniredis.RunT(t)
	s := openStore(t, "redis://"+m.Addr()+"/0", kwredis.WithPrefix("p:"))
	e := s.Ephemeral()
	for _, id := range []string{"a", "b"} {
		ss := &store.SubjectSession{ID: id, Subject: "bob", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
		if err := e.SubjectSessions.Create(t.Context(), ss); err != nil {
			t.Fatal(err)
		}
	}
	m.Del("p:ss:a") // as if Redis had expired it
	n, err := e.Purger.Purge(t.Context(), base, 100)
	if err != nil || n != 0 {
		t.Fatalf("Purge = %d, %v; want 0, nil", n, err)
	}
	members, err := m.ZMembers("p:ssub:bob")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"b"}, members); d != "" {
		t.Errorf("index members (-want +got):\n%s", d)
	}
}

func TestNotifier(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			n := s.Notifier()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			keys, err := n.Subscribe(ctx, "keys")
			if err != nil {
				t.Fatal(err)
			}
			other, err := n.Subscribe(ctx, "clients")
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Publish(t.Context(), "keys", "rotated"); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-keys:
				if got != "rotated" {
					t.Errorf("received %q, want %q", got, "rotated")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("nothing received")
			}
			select {
			case got := <-other:
				t.Errorf("subscriber of another topic received %q", got)
			case <-time.After(100 * time.Millisecond):
			}
			cancel()
			select {
			case _, ok := <-keys:
				if ok {
					t.Error("delivery after the subscription ended")
				}
			case <-time.After(5 * time.Second):
				t.Error("channel not closed after ctx ended")
			}
		})
	}
}

// logTo returns a logger writing JSON lines into buf.
func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Open warns unless Redis evicts nothing (maxmemory-policy noeviction): an
// evicted key loses a login, a pushed request or a replay-cache entry.
// CONFIG SET is server-wide, so the test restores the policy it found;
// with maxmemory 0 (no limit) no policy evicts anything meanwhile.
func TestEvictionPolicyWarning(t *testing.T) {
	url, prefix := redistest.NewURL(t)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	admin := goredis.NewClient(opts)
	t.Cleanup(func() { admin.Close() })
	orig, err := admin.ConfigGet(t.Context(), "maxmemory-policy").Result()
	if err != nil {
		t.Fatalf("CONFIG GET: %v", err)
	}
	t.Cleanup(func() {
		if err := admin.ConfigSet(context.Background(), "maxmemory-policy", orig["maxmemory-policy"]).Err(); err != nil {
			t.Errorf("restore maxmemory-policy %q: %v", orig["maxmemory-policy"], err)
		}
	})
	for _, tc := range []struct {
		policy string
		warn   bool
	}{{"allkeys-lru", true}, {"volatile-ttl", true}, {"noeviction", false}} {
		t.Run(tc.policy, func(t *testing.T) {
			if err := admin.ConfigSet(t.Context(), "maxmemory-policy", tc.policy).Err(); err != nil {
				t.Fatalf("CONFIG SET: %v", err)
			}
			var logs bytes.Buffer
			openStore(t, url, kwredis.WithPrefix(prefix), kwredis.WithLogger(logTo(&logs)))
			warned := strings.Contains(logs.String(), `"level":"WARN"`) &&
				strings.Contains(logs.String(), `"maxmemory_policy":"`+tc.policy+`"`)
			if warned != tc.warn {
				t.Errorf("policy %s: warned = %v, want %v; logs:\n%s", tc.policy, warned, tc.warn, logs.String())
			}
		})
	}
}

// A server that refuses CONFIG (managed services; miniredis lacks it) is
// still used, and the operator is told the policy could not be checked.
func TestEvictionPolicyUncheckable(t *testing.T) {
	m := miniredis.RunT(t)
	var logs bytes.Buffer
	openStore(t, "redis://"+m.Addr()+"/0", kwredis.WithLogger(logTo(&logs)))
	if !strings.Contains(logs.String(), "cannot read maxmemory-policy") {
		t.Errorf("no notice that the policy could not be checked; logs:\n%s", logs.String())
	}
}

// TestSubjectSessionLeftovers runs many creations, updates (some moving a
// session to another subject), deletes and expiries, and counts the keys
// and index members left behind: only the live sessions, their subject
// indexes and one expiry index may remain.
func TestSubjectSessionLeftovers(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			e := s.Ephemeral().SubjectSessions
			ctx := t.Context()
			const n = 300
			live := map[string]string{} // id → subject
			for i := range n {
				id := fmt.Sprintf("s%03d", i)
				sub := fmt.Sprintf("user%d", i%7)
				ss := &store.SubjectSession{ID: id, Subject: sub, CreatedAt: base, LastUsedAt: base,
					ExpiresAt: base.Add(time.Duration(1+i%3) * time.Hour)}
				if err := e.Create(ctx, ss); err != nil {
					t.Fatal(err)
				}
				live[id] = sub
				switch i % 5 {
				case 1: // deleted
					if _, err := e.Delete(ctx, id); err != nil {
						t.Fatal(err)
					}
					delete(live, id)
				case 2: // moved to another subject, expiry extended
					moved := fmt.Sprintf("moved%d", i%4)
					if _, err := e.Update(ctx, id, base, func(ss *store.SubjectSession) error {
						ss.Subject, ss.ExpiresAt = moved, base.Add(10*time.Hour)
						return nil
					}); err != nil {
						t.Fatal(err)
					}
					live[id] = moved
				}
			}
			// Sessions expiring within two hours are taken, as the purge loop does.
			for {
				taken, err := e.TakeExpired(ctx, base.Add(2*time.Hour), 37)
				if err != nil {
					t.Fatal(err)
				}
				if len(taken) == 0 {
					break
				}
				for _, ss := range taken {
					if _, ok := live[ss.ID]; !ok {
						t.Fatalf("took %s, which is not live", ss.ID)
					}
					delete(live, ss.ID)
				}
			}
			subjects := map[string]bool{}
			for _, sub := range live {
				subjects[sub] = true
			}
			keys, members := s.Keys(t), 0
			var sessionKeys, indexKeys, expiryIndexes int
			for k, m := range keys {
				switch {
				case strings.Contains(k, ":ss:"):
					sessionKeys++
				case strings.Contains(k, ":ssub:"):
					indexKeys++
					members += m
				case strings.HasSuffix(k, "ssexp"):
					expiryIndexes++
					if m != len(live) {
						t.Errorf("expiry index has %d members, want %d (live sessions)", m, len(live))
					}
				default:
					t.Errorf("unexpected key %s", k)
				}
			}
			if sessionKeys != len(live) || indexKeys != len(subjects) || members != len(live) || expiryIndexes != 1 {
				t.Errorf("left behind %d session keys, %d subject indexes with %d members, %d expiry indexes; want %d, %d, %d, 1",
					sessionKeys, indexKeys, members, expiryIndexes, len(live), len(subjects), len(live))
			}
		})
	}
}
