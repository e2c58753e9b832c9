package clientreg

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keyward/keyward/store"
)

func TestCache(t *testing.T) {
	rename := func(t *testing.T, f *fixture, id, name string) {
		t.Helper()
		body := `{"client_id":"` + id + `","redirect_uris":["https://rp.example.com/cb"],"client_name":"` + name + `"}`
		if _, err := updateJSON(t.Context(), f.svc, id, AsOperator(), body); err != nil {
			t.Fatal(err)
		}
	}
	// behindTheBack changes the stored record without telling the
	// service, as another node would.
	behindTheBack := func(t *testing.T, f *fixture, id, name string) {
		t.Helper()
		if _, err := f.store.Update(t.Context(), id, func(c *store.Client) error { c.Metadata.ClientName = name; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// act runs between a first Get (which fills the cache) and a
		// second one.
		act       func(t *testing.T, f *fixture, id string)
		wantReads int // store reads by the two Gets together
		wantName  string
		wantErr   error
	}{
		{name: "hit", act: func(*testing.T, *fixture, string) {}, wantReads: 1, wantName: "RP"},
		{name: "stale within TTL", act: func(t *testing.T, f *fixture, id string) {
			behindTheBack(t, f, id, "Remote")
			f.clock.Advance(DefaultCacheTTL - time.Millisecond)
		}, wantReads: 1, wantName: "RP"},
		{name: "expired at TTL", act: func(t *testing.T, f *fixture, id string) {
			behindTheBack(t, f, id, "Remote")
			f.clock.Advance(DefaultCacheTTL)
		}, wantReads: 2, wantName: "Remote"},
		{name: "Invalidate", act: func(t *testing.T, f *fixture, id string) {
			behindTheBack(t, f, id, "Remote")
			f.svc.Invalidate(id)
		}, wantReads: 2, wantName: "Remote"},
		{name: "Invalidate of another client keeps the entry", act: func(t *testing.T, f *fixture, id string) {
			f.svc.Invalidate("other")
		}, wantReads: 1, wantName: "RP"},
		{name: "local update", act: func(t *testing.T, f *fixture, id string) {
			rename(t, f, id, "Local")
		}, wantReads: 2, wantName: "Local"},
		{name: "local delete", act: func(t *testing.T, f *fixture, id string) {
			if err := f.svc.Delete(t.Context(), id, AsOperator()); err != nil {
				t.Fatal(err)
			}
		}, wantReads: 2, wantErr: store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			reg := mustRegister(t, f, webBody)
			if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
				t.Fatal(err)
			}
			base := f.store.getCount()
			tt.act(t, f, reg.ClientID)
			afterAct := f.store.getCount() // AdminUpdate/Delete read the store themselves
			c, err := f.svc.Get(t.Context(), reg.ClientID)
			if reads := 1 + f.store.getCount() - afterAct; reads != tt.wantReads {
				t.Errorf("store reads = %d, want %d (base %d)", reads, tt.wantReads, base)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Get error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Metadata.ClientName != tt.wantName {
				t.Errorf("client_name = %q, want %q", c.Metadata.ClientName, tt.wantName)
			}
		})
	}
}

func TestCacheTTLConfigured(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheTTL = time.Minute })
	reg := mustRegister(t, f, webBody)
	for _, step := range []struct {
		advance   time.Duration
		wantReads int
	}{{0, 1}, {59 * time.Second, 1}, {time.Second, 2}, {time.Second, 2}} {
		f.clock.Advance(step.advance)
		if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
			t.Fatal(err)
		}
		if got := f.store.getCount(); got != step.wantReads {
			t.Fatalf("after +%v: store reads = %d, want %d", step.advance, got, step.wantReads)
		}
	}
}

func TestCacheUnknownClient(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.svc.Get(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	// Failures are not cached: a client created elsewhere appears at once.
	if err := f.store.Create(t.Context(), &store.Client{ID: "nope"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Get(t.Context(), "nope"); err != nil {
		t.Fatalf("Get after create: %v", err)
	}
}

// TestCacheSingleFlight holds the store read at a gate until every caller
// is waiting, so that a missing single-flight shows up as extra reads.
func TestCacheSingleFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		reg := mustRegister(t, f, webBody)
		gate := make(chan struct{})
		f.store.gate = gate

		const n = 50
		var wg sync.WaitGroup
		got := make([]*store.Client, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { got[i], errs[i] = f.svc.Get(t.Context(), reg.ClientID) })
		}
		synctest.Wait() // all n callers are blocked
		if reads := f.store.getCount(); reads != 1 {
			t.Errorf("concurrent misses made %d store reads, want 1", reads)
		}
		close(gate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || got[i] != got[0] {
				t.Fatalf("caller %d: %p, %v; want the shared result %p", i, got[i], errs[i], got[0])
			}
		}
	})
}

// TestCacheInvalidateDuringLoad: a read that began before an invalidation
// must not put its (possibly stale) result in the cache, and callers after
// the invalidation must not join it.
func TestCacheInvalidateDuringLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		reg := mustRegister(t, f, webBody)
		gate := make(chan struct{})
		f.store.gate = gate

		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait()
		f.svc.Invalidate(reg.ClientID)
		go func() {
			if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait()
		if reads := f.store.getCount(); reads != 2 {
			t.Errorf("store reads = %d, want 2: a caller after Invalidate joined the earlier load", reads)
		}
		close(gate)
		<-done
		synctest.Wait()
		f.store.gate = nil
		before := f.store.getCount()
		if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
			t.Fatal(err)
		}
		// The second load (after Invalidate) may fill the cache; the
		// first must not have. Either way the entry is the fresh one, so
		// this Get is a hit.
		if reads := f.store.getCount() - before; reads != 0 {
			t.Errorf("Get after both loads read the store %d times, want a hit", reads)
		}
	})
}

func TestCacheStaleLoadNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		reg := mustRegister(t, f, webBody)
		gate := make(chan struct{})
		f.store.gate = gate
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait()
		f.svc.Invalidate(reg.ClientID)
		close(gate)
		<-done
		f.store.gate = nil
		before := f.store.getCount()
		if _, err := f.svc.Get(t.Context(), reg.ClientID); err != nil {
			t.Fatal(err)
		}
		if reads := f.store.getCount() - before; reads != 1 {
			t.Errorf("store reads = %d, want 1: a load begun before Invalidate was cached", reads)
		}
	})
}

func TestCacheCallerCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil)
		reg := mustRegister(t, f, webBody)
		gate := make(chan struct{})
		f.store.gate = gate

		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { _, err := f.svc.Get(ctx, reg.ClientID); errc <- err }()
		other := make(chan error, 1)
		go func() { _, err := f.svc.Get(t.Context(), reg.ClientID); other <- err }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled caller: %v, want context.Canceled", err)
		}
		// The shared read goes on for the caller still waiting.
		close(gate)
		if err := <-other; err != nil {
			t.Errorf("other caller: %v", err)
		}
	})
}
