package session

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newService(t *testing.T, cfg Config) (*Service, *testclock.Clock, store.SubjectSessionStore) {
	t.Helper()
	c := testclock.New(t0)
	ms, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := ms.Ephemeral().SubjectSessions
	return &Service{Store: st, MACKey: []byte("0123456789abcdef0123456789abcdef"), Config: cfg, Now: c.Now}, c, st
}

func i64(v int64) *int64 { return &v }

func TestCreateAndGet(t *testing.T) {
	s, _, st := newService(t, Config{})
	sess, sid, err := s.Create(t.Context(), Login{Sub: "alice", ACR: "1", AMR: []string{"pwd"}, Claims: map[string]any{"ip": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	key, mac, ok := strings.Cut(sid, ".")
	if !ok || key != sess.ID || mac == "" {
		t.Fatalf("sid %q does not have the form <key>.<mac> for key %q", sid, sess.ID)
	}
	if len(key) != 22 {
		t.Errorf("key length %d, want 22 (128 bits base64url)", len(key))
	}
	if _, err := st.Get(t.Context(), sid, t0); !errors.Is(err, store.ErrNotFound) {
		t.Error("the full sid (with MAC) was stored; only the key may be")
	}
	got, err := s.Get(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	want := &store.SubjectSession{
		ID: key, Subject: "alice", AuthTime: t0, ACR: "1", AMR: []string{"pwd"},
		MaxLife: DefaultMaxLife, AuthLife: DefaultAuthLife, MaxIdle: DefaultMaxIdle,
		Claims: map[string]any{"ip": "x"}, Ctx: CtxWeb, CreatedAt: t0, LastUsedAt: t0,
		ExpiresAt: t0.Add(DefaultMaxIdle),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Get (-want +got):\n%s", d)
	}
}

func TestGetRejects(t *testing.T) {
	s, _, _ := newService(t, Config{})
	_, sid, err := s.Create(t.Context(), Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	key, mac, _ := strings.Cut(sid, ".")
	other := &Service{Store: s.Store, MACKey: []byte("another key"), Now: s.Now}
	for name, tc := range map[string]struct {
		svc *Service
		sid string
	}{
		"empty":          {s, ""},
		"key only":       {s, key},
		"bad mac":        {s, key + "." + strings.Repeat("A", len(mac))},
		"mac of other":   {other, sid},
		"unknown key":    {s, SIDForKey(s.MACKey, "unknownkey")},
		"trailing dot":   {s, sid + "."},
		"only separator": {s, "."},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tc.svc.Get(t.Context(), tc.sid); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%q) err = %v, want ErrNotFound", tc.sid, err)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		login   Login
		steps   []time.Duration // advances; a Get after each
		wantErr bool            // for the final Get
	}{
		{"idle within limit kept alive by use", Config{MaxIdle: time.Hour}, Login{Sub: "a"}, []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, false},
		{"idle exceeded", Config{MaxIdle: time.Hour}, Login{Sub: "a"}, []time.Duration{61 * time.Minute}, true},
		{"idle exactly reached", Config{MaxIdle: time.Hour}, Login{Sub: "a"}, []time.Duration{time.Hour}, true},
		{"max life despite use", Config{MaxLife: 2 * time.Hour, MaxIdle: time.Hour}, Login{Sub: "a"}, []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, true},
		{"unlimited", Config{MaxLife: -1, MaxIdle: -1}, Login{Sub: "a"}, []time.Duration{50 * 365 * 24 * time.Hour}, false},
		{"override minutes", Config{MaxIdle: time.Hour}, Login{Sub: "a", MaxIdle: i64(10)}, []time.Duration{11 * time.Minute}, true},
		{"override unlimited", Config{MaxIdle: time.Hour}, Login{Sub: "a", MaxIdle: i64(-1)}, []time.Duration{100 * time.Hour}, false},
		{"override zero keeps config", Config{MaxIdle: time.Hour}, Login{Sub: "a", MaxIdle: i64(0)}, []time.Duration{61 * time.Minute}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := newService(t, tc.cfg)
			_, sid, err := s.Create(t.Context(), tc.login)
			if err != nil {
				t.Fatal(err)
			}
			for i, d := range tc.steps {
				c.Advance(d)
				_, err = s.Get(t.Context(), sid)
				if i < len(tc.steps)-1 && err != nil {
					t.Fatalf("Get after step %d: %v", i, err)
				}
			}
			if gotErr := errors.Is(err, store.ErrNotFound); gotErr != tc.wantErr {
				t.Errorf("final Get err = %v, want not-found %v", err, tc.wantErr)
			}
		})
	}
}

func TestAuthExpired(t *testing.T) {
	sess := &store.SubjectSession{AuthTime: t0, AuthLife: time.Hour}
	for _, tc := range []struct {
		at   time.Time
		life time.Duration
		want bool
	}{
		{t0.Add(59 * time.Minute), time.Hour, false},
		{t0.Add(time.Hour), time.Hour, true},
		{t0.Add(1000 * time.Hour), -1, false},
	} {
		sess.AuthLife = tc.life
		if got := AuthExpired(sess, tc.at); got != tc.want {
			t.Errorf("AuthExpired(life %v, at %v) = %v, want %v", tc.life, tc.at, got, tc.want)
		}
	}
}

func TestQuotaClosesOldest(t *testing.T) {
	s, c, st := newService(t, Config{QuotaPerSubject: 2})
	var sids []string
	for range 3 {
		_, sid, err := s.Create(t.Context(), Login{Sub: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sid)
		c.Advance(time.Second)
	}
	if _, _, err := s.Create(t.Context(), Login{Sub: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), sids[0]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("oldest session survived the quota: %v", err)
	}
	for _, sid := range sids[1:] {
		if _, err := s.Get(t.Context(), sid); err != nil {
			t.Errorf("newer session %q closed: %v", sid, err)
		}
	}
	for sub, want := range map[string]int{"alice": 2, "bob": 1} {
		if live, _ := st.ListBySubject(t.Context(), sub, c.Now()); len(live) != want {
			t.Errorf("%s has %d sessions, want %d", sub, len(live), want)
		}
	}
}

func TestAddRPAndEnd(t *testing.T) {
	s, _, _ := newService(t, Config{})
	sess, sid, err := s.Create(t.Context(), Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"app1", "app2", "app1"} {
		if err := s.AddRP(t.Context(), sess.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Get(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"app1", "app2"}, got.RPs); d != "" {
		t.Errorf("RPs (-want +got):\n%s", d)
	}
	if _, err := s.End(t.Context(), sess.ID+".forged"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("End with forged MAC: %v, want ErrNotFound", err)
	}
	if ended, err := s.End(t.Context(), sid); err != nil || ended.ID != sess.ID {
		t.Fatalf("End = %v, %v", ended, err)
	}
	if _, err := s.Get(t.Context(), sid); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after End: %v", err)
	}
	if _, err := s.End(t.Context(), sid); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second End: %v", err)
	}
	if err := s.AddRP(t.Context(), sess.ID, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddRP after End: %v", err)
	}
}

func TestReauthenticate(t *testing.T) {
	s, c, _ := newService(t, Config{})
	sess, sid, err := s.Create(t.Context(), Login{Sub: "alice", ACR: "1", Claims: map[string]any{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	got, err := s.Reauthenticate(t.Context(), sess.ID, Login{Sub: "alice", ACR: "2", AMR: []string{"otp"}, Claims: map[string]any{"b": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.AuthTime.Equal(t0.Add(time.Hour)) || got.ACR != "2" || got.Claims["a"] != "1" || got.Claims["b"] != "2" {
		t.Errorf("Reauthenticate = %+v", got)
	}
	if _, err := s.Reauthenticate(t.Context(), sess.ID, Login{Sub: "bob"}); !errors.Is(err, ErrOtherSubject) {
		t.Errorf("Reauthenticate for another subject: %v, want ErrOtherSubject", err)
	}
	if _, err := s.Get(t.Context(), sid); err != nil {
		t.Errorf("session ID changed by reauthentication: %v", err)
	}
}

func TestPublicIDAndView(t *testing.T) {
	first, again := PublicID("k1"), PublicID("k1")
	if first == PublicID("k2") || first != again {
		t.Error("PublicID is not a stable per-key value")
	}
	if strings.Contains(PublicID("k1"), "k1") || len(PublicID("k1")) != 22 {
		t.Errorf("PublicID(k1) = %q", PublicID("k1"))
	}
	s, _, _ := newService(t, Config{MaxLife: -1})
	sess, sid, err := s.Create(t.Context(), Login{Sub: "alice", AMR: []string{"pwd"}})
	if err != nil {
		t.Fatal(err)
	}
	want := SessionView{SID: sid, Sub: "alice", AuthTime: t0.Unix(), AMR: []string{"pwd"}, CreationTime: t0.Unix(),
		MaxLife: -1, AuthLife: 43200, MaxIdle: 14400, Ctx: "web"}
	if d := cmp.Diff(want, s.View(sess, sid)); d != "" {
		t.Errorf("View (-want +got):\n%s", d)
	}
}

// endLog records the Ended calls.
type endLog struct {
	mu    sync.Mutex
	calls []string // "<key> <reason>"
}

func (l *endLog) ended(_ context.Context, sess *store.SubjectSession, why EndReason) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, sess.ID+" "+string(why))
}

func (l *endLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func TestEndedOnQuotaLogoutAndExpiry(t *testing.T) {
	s, c, _ := newService(t, Config{QuotaPerSubject: 1, MaxIdle: time.Hour})
	var log endLog
	s.Ended = log.ended
	first, _, err := s.Create(t.Context(), Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	second, sid, err := s.Create(t.Context(), Login{Sub: "alice"}) // closes first
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.End(t.Context(), sid); err != nil {
		t.Fatal(err)
	}
	third, _, err := s.Create(t.Context(), Login{Sub: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	if n, err := s.TakeExpired(t.Context(), c.Now(), 10); err != nil || n != 1 {
		t.Fatalf("TakeExpired = %d, %v; want 1", n, err)
	}
	if n, err := s.TakeExpired(t.Context(), c.Now(), 10); err != nil || n != 0 {
		t.Fatalf("second TakeExpired = %d, %v; want 0", n, err)
	}
	want := []string{first.ID + " quota", second.ID + " logout", third.ID + " expired"}
	if d := cmp.Diff(want, log.get()); d != "" {
		t.Errorf("Ended calls (-want +got):\n%s", d)
	}
}

func TestQuotaLimits(t *testing.T) {
	for _, tc := range []struct{ cfg, want int }{{0, DefaultQuota}, {3, 3}, {100, MaxQuota}, {-1, -1}} {
		s := &Service{Config: Config{QuotaPerSubject: tc.cfg}}
		if got := s.quota(); got != tc.want {
			t.Errorf("quota(%d) = %d, want %d", tc.cfg, got, tc.want)
		}
	}
}

// Parallel ends of one session: one wins and is reported once.
func TestEndConcurrent(t *testing.T) {
	s, _, _ := newService(t, Config{})
	var log endLog
	s.Ended = log.ended
	_, sid, err := s.Create(t.Context(), Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 16 {
		wg.Go(func() {
			if _, err := s.End(t.Context(), sid); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || len(log.get()) != 1 {
		t.Errorf("%d ends succeeded and %d were reported, want 1 and 1", wins.Load(), len(log.get()))
	}
}

func TestPeekUpdateRemoveRP(t *testing.T) {
	s, c, _ := newService(t, Config{MaxIdle: time.Hour})
	sess, _, err := s.Create(t.Context(), Login{Sub: "alice", Data: map[string]any{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(30 * time.Minute)
	peeked, err := s.Peek(t.Context(), sess.ID)
	if err != nil || !peeked.LastUsedAt.Equal(t0) {
		t.Fatalf("Peek = %+v, %v; the idle timer moved", peeked, err)
	}
	data := map[string]any{"b": "2"}
	got, err := s.Update(t.Context(), sess.ID, Change{AuthLife: i64(5), MaxIdle: i64(-1), Data: &data})
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthLife != 5*time.Minute || got.MaxIdle != -1 || got.Data["b"] != "2" || got.Data["a"] != nil ||
		!got.LastUsedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(DefaultMaxLife)) {
		t.Errorf("Update = %+v", got)
	}
	got, err = s.Update(t.Context(), sess.ID, Change{MaxIdle: i64(0)}) // back to the configured hour
	if err != nil || got.MaxIdle != time.Hour || !got.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("Update to the configured idle time = %+v, %v", got, err)
	}
	if err := s.AddRP(t.Context(), sess.ID, "app1"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []bool{true, false} {
		removed, err := s.RemoveRP(t.Context(), sess.ID, "app1")
		if err != nil || removed != want {
			t.Errorf("RemoveRP = %v, %v; want %v", removed, err, want)
		}
	}
	c.Advance(time.Hour)
	if _, err := s.Peek(t.Context(), sess.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Peek of an idle session: %v", err)
	}
	if _, err := s.Update(t.Context(), sess.ID, Change{Data: &data}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of an idle session: %v", err)
	}
}

// writeCounter counts the subject session updates that go ahead (their fn
// returned nil, so the store writes).
type writeCounter struct {
	store.SubjectSessionStore
	writes int
}

func (w *writeCounter) Update(ctx context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	return w.SubjectSessionStore.Update(ctx, id, now, func(s *store.SubjectSession) error {
		err := fn(s)
		if err == nil {
			w.writes++
		}
		return err
	})
}

// TestAddRPKnownClientWritesNothing: adding a client the session already
// lists is not an update (a returning user's code flow ends in AddRP).
func TestAddRPKnownClientWritesNothing(t *testing.T) {
	s, _, st := newService(t, Config{})
	wc := &writeCounter{SubjectSessionStore: st}
	s.Store = wc
	sess, sid, err := s.Create(t.Context(), Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"app1", "app1", "app2", "app1", "app2"} {
		if err := s.AddRP(t.Context(), sess.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	if wc.writes != 2 {
		t.Errorf("%d writes for two distinct clients added five times, want 2", wc.writes)
	}
	got, err := s.Get(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"app1", "app2"}, got.RPs); d != "" {
		t.Errorf("RPs (-want +got):\n%s", d)
	}
}
