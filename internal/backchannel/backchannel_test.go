package backchannel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/logout"
)

// run starts d until the test ends.
func run(t *testing.T, d *Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// settle waits until every queued notification was delivered, failed or
// dropped; the bound only stops a broken test from hanging.
func settle(t *testing.T, d *Dispatcher, want int64) Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := d.Stats()
		if st.Delivered+st.Failed+st.Dropped >= want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries did not settle: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeliversForm(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Store(r.PostForm.Get("logout_token"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := New(Config{}, nil, nil)
	run(t, d)
	d.Send(t.Context(), logout.Notification{ClientID: "c", URI: srv.URL + "/bcl?x=1", Token: "tok.en.value"})
	st := settle(t, d, 1)
	if st.Delivered != 1 || got.Load() != "tok.en.value" {
		t.Errorf("stats %+v, token %v", st, got.Load())
	}
}

// A redirect is a failure, never followed; a 4xx is not retried; a 5xx
// is retried the configured number of times and then counted as failed.
func TestFailures(t *testing.T) {
	var followed, calls5xx, calls4xx atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { followed.Add(1) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { calls5xx.Add(1); w.WriteHeader(500) })
	mux.HandleFunc("/400", func(w http.ResponseWriter, r *http.Request) { calls4xx.Add(1); w.WriteHeader(400) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d := New(Config{Retries: 2, RetryDelay: time.Millisecond}, nil, nil)
	run(t, d)
	for _, p := range []string{"/redirect", "/500", "/400", "/unreachable\x7f"} {
		d.Send(t.Context(), logout.Notification{ClientID: p, URI: srv.URL + p, Token: "t"})
	}
	st := settle(t, d, 4)
	if st.Failed != 4 || st.Delivered != 0 || st.Retried != 2 {
		t.Errorf("stats %+v, want 4 failed, 2 retried", st)
	}
	if followed.Load() != 0 || calls5xx.Load() != 3 || calls4xx.Load() != 1 {
		t.Errorf("redirect followed %d times, 5xx called %d (want 3), 4xx called %d (want 1)", followed.Load(), calls5xx.Load(), calls4xx.Load())
	}
}

// A huge answer is not read to its end: the attempt finishes anyway.
func TestBoundedResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range 1 << 14 { // 1 GiB if read in full
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	d := New(Config{}, nil, nil)
	run(t, d)
	d.Send(t.Context(), logout.Notification{URI: srv.URL, Token: "t"})
	if st := settle(t, d, 1); st.Delivered != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A relying party that never answers costs one timeout per attempt, and
// the other notifications get through meanwhile.
func TestSlowPeerBounded(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer fast.Close()
	d := New(Config{Timeout: 50 * time.Millisecond, Parallelism: 2, Retries: 0}, nil, nil)
	run(t, d)
	d.Send(t.Context(), logout.Notification{ClientID: "slow", URI: slow.URL, Token: "t"})
	for range 5 {
		d.Send(t.Context(), logout.Notification{ClientID: "fast", URI: fast.URL, Token: "t"})
	}
	st := settle(t, d, 6)
	if st.Delivered != 5 || st.Failed != 1 {
		t.Errorf("stats %+v, want 5 delivered and the slow one failed", st)
	}
}

// Send never blocks: beyond the queue it drops and counts.
func TestQueueFullDrops(t *testing.T) {
	d := New(Config{QueueSize: 2}, nil, nil) // not running: nothing drains the queue
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { d.Send(t.Context(), logout.Notification{URI: "http://127.0.0.1:1/", Token: "t"}) })
	}
	wg.Wait()
	if st := d.Stats(); st.Queued != 5 || st.Dropped != 3 {
		t.Errorf("stats %+v, want 5 queued and 3 dropped", st)
	}
}

func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	d := New(Config{QueueSize: b.N + 1}, nil, nil)
	for b.Loop() {
		d.Send(context.Background(), logout.Notification{URI: srv.URL, Token: "t"})
	}
}
