package loginui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keyward/keyward/loginui"
)

// handlerTransport serves requests with a handler in memory, so the UI and
// its API run inside a synctest bubble without sockets.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// gatedAuth is an Authenticator that holds every check until released and
// counts the checks started and running.
type gatedAuth struct {
	release chan struct{}

	mu                     sync.Mutex
	started, running, peak int
}

func newGatedAuth() *gatedAuth { return &gatedAuth{release: make(chan struct{})} }

func (g *gatedAuth) Authenticate(ctx context.Context, _, _ string) (string, error) {
	g.mu.Lock()
	g.started++
	g.running++
	g.peak = max(g.peak, g.running)
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.running--; g.mu.Unlock() }()
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return "", errors.New("wrong password")
}

func (g *gatedAuth) counts() (started, running, peak int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.started, g.running, g.peak
}

// signInForm builds the UI in memory and opens a sign-in page; it returns
// the UI, the page's form and the browser's cookies.
func signInForm(t *testing.T, mutate func(*loginui.Config)) (*loginui.UI, url.Values, []*http.Cookie) {
	t.Helper()
	cfg := loginui.Config{
		APIBase:    "http://api.internal" + apiPrefix,
		APIToken:   apiToken,
		HTTPClient: &http.Client{Transport: handlerTransport{newFakeAPI(apiToken)}},
	}
	mutate(&cfg)
	ui, err := loginui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login?"+authzQuery(), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /login: %d\n%s", rec.Code, rec.Body)
	}
	return ui, hidden(t, rec.Body.String()), rec.Result().Cookies()
}

// postSignIn posts the form with a username and password from one client
// address and returns the status.
func postSignIn(ui http.Handler, form url.Values, cookies []*http.Cookie, user, pass string) int {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set("username", user)
	f.Set("password", pass)
	req := httptest.NewRequest(http.MethodPost, "/login/authenticate", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, req)
	return rec.Code
}

// TestParallelWrongPasswordsAreThrottled: wrong passwords for one username
// posted in parallel with one form state are checked at most the allowed
// number of times; the others are refused with 429 before any check. The
// checks are held open until every request has either reached one or been
// answered, so the race is the worst case, not a lucky ordering.
func TestParallelWrongPasswordsAreThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, parallel = 5, 20
		auth := newGatedAuth()
		ui, form, cookies := signInForm(t, func(c *loginui.Config) {
			c.Authenticator, c.MaxFailedSignIns, c.MaxConcurrentSignIns = auth, limit, parallel
		})
		statuses := make(chan int, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() { statuses <- postSignIn(ui, form, cookies, "alice", fmt.Sprintf("guess-%d", i)) })
		}
		synctest.Wait()
		if started, _, _ := auth.counts(); started > limit {
			t.Errorf("%d parallel wrong passwords checked %d times, want at most %d", parallel, started, limit)
		}
		close(auth.release)
		wg.Wait()
		close(statuses)
		got := map[int]int{}
		for s := range statuses {
			got[s]++
		}
		if want := map[int]int{http.StatusUnauthorized: limit, http.StatusTooManyRequests: parallel - limit}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
		// The pair stays refused, also for the right password.
		if s := postSignIn(ui, form, cookies, "alice", "alice-password"); s != http.StatusTooManyRequests {
			t.Errorf("after the limit: status %d, want 429", s)
		}
		if started, _, _ := auth.counts(); started != limit {
			t.Errorf("%d password checks in all, want %d", started, limit)
		}
	})
}

// TestPasswordChecksAreBounded: sign-ins for distinct usernames (each
// within its own throttle limit) never run more than MaxConcurrentSignIns
// password checks at once; the rest wait for a slot and are then checked.
func TestPasswordChecksAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const slots, parallel = 2, 8
		auth := newGatedAuth()
		ui, form, cookies := signInForm(t, func(c *loginui.Config) {
			c.Authenticator, c.MaxConcurrentSignIns = auth, slots
		})
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() { postSignIn(ui, form, cookies, fmt.Sprintf("user-%d", i), "wrong") })
		}
		synctest.Wait()
		if _, running, _ := auth.counts(); running != slots {
			t.Errorf("%d password checks running, want %d", running, slots)
		}
		close(auth.release)
		wg.Wait()
		if started, _, peak := auth.counts(); peak != slots || started != parallel {
			t.Errorf("peak %d concurrent checks of %d, want peak %d of %d", peak, started, slots, parallel)
		}
	})
}

// TestHugeUsernamesRetainNoMemory: failed sign-ins with usernames close to
// the form limit leave only a fixed-size record each in the throttle.
func TestHugeUsernamesRetainNoMemory(t *testing.T) {
	const n, size = 2000, 60_000
	ui, form, cookies := signInForm(t, func(c *loginui.Config) {
		c.Authenticator = authFunc(func(context.Context, string, string) (string, error) { return "", errors.New("no") })
	})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	name := []byte(strings.Repeat("u", size))
	for i := range n {
		copy(name, fmt.Sprintf("%08d", i))
		if s := postSignIn(ui, form, cookies, string(name), "wrong"); s != http.StatusUnauthorized {
			t.Fatalf("sign-in %d: status %d", i, s)
		}
	}
	after := heap()
	// The usernames total n×size = 120 MB; the throttle's records a few
	// hundred bytes each.
	if grown := int64(after) - int64(before); grown > 16<<20 {
		t.Errorf("heap grew by %d MiB after %d failed sign-ins with %d-byte usernames; the throttle keeps the usernames", grown>>20, n, size)
	}
	runtime.KeepAlive(ui)
}

// The server's rate limit (rate_limits.login) is asked before every
// password check with the username, and a refusal is a 429 with
// Retry-After that checks no password; the throttle keys on the address
// the server resolved, not on RemoteAddr.
func TestRateLimitHookAndClientAddr(t *testing.T) {
	auth := newGatedAuth()
	close(auth.release)
	var asked []string
	refuse := false
	ui, form, cookies := signInForm(t, func(c *loginui.Config) {
		c.Authenticator, c.MaxFailedSignIns = auth, 2
		c.ClientAddr = func(r *http.Request) string { return r.Header.Get("X-Test-Addr") }
		c.RateLimit = func(r *http.Request, username string) time.Duration {
			asked = append(asked, username)
			if refuse {
				return 1500 * time.Millisecond
			}
			return 0
		}
	})
	post := func(addr string) *httptest.ResponseRecorder {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("username", "alice")
		f.Set("password", "wrong")
		req := httptest.NewRequest(http.MethodPost, "/login/authenticate", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-Addr", addr)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, req)
		return rec
	}
	// Two failures from one resolved address use up the throttle for it;
	// another resolved address (same RemoteAddr) is still checked.
	for range 2 {
		if c := post("198.51.100.1").Code; c != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", c)
		}
	}
	if c := post("198.51.100.1").Code; c != http.StatusTooManyRequests {
		t.Fatalf("throttled address: %d, want 429", c)
	}
	if c := post("198.51.100.2").Code; c != http.StatusUnauthorized {
		t.Fatalf("other address: %d, want 401", c)
	}
	refuse = true
	started, _, _ := auth.counts()
	rec := post("198.51.100.3")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("rate limited: %d Retry-After %q, want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
	}
	if now, _, _ := auth.counts(); now != started {
		t.Error("a rate-limited sign-in checked the password")
	}
	if len(asked) != 5 || asked[0] != "alice" {
		t.Errorf("RateLimit asked %v", asked)
	}
}
