package outage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

// lockedBuffer collects the node's log lines from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a node on private backends and an RP registered with it.
type harness struct {
	t            *testing.T
	issuer       string
	apiToken     string
	clientID     string
	clientSecret string
	redirectURI  string
	http         *http.Client
	logs         *lockedBuffer
}

// tally counts the answers of the load by status, and the bad ones in full.
type tally struct {
	mu     sync.Mutex
	status map[int]int
	bad    []string // anything that is neither a success nor a proper 503
	slow   []string // answers that took longer than the request deadline allows
	okFlow int      // completed flows (code redeemed)
}

func (ty *tally) reset() (map[int]int, int) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	s, ok := ty.status, ty.okFlow
	ty.status, ty.okFlow = map[int]int{}, 0
	return s, ok
}

// waitFor polls the tally until cond holds or within passes.
func (ty *tally) waitFor(cond func(status map[int]int, okFlows int) bool, within time.Duration) bool {
	for start := time.Now(); time.Since(start) < within; time.Sleep(50 * time.Millisecond) {
		ty.mu.Lock()
		ok := cond(ty.status, ty.okFlow)
		ty.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// maxAnswerTime is what any answer may take: the node's request deadline
// (10 s, server/limits.go) with slack for a loaded CI machine (the race
// detector, other packages in parallel).
const maxAnswerTime = 20 * time.Second

// do sends req and records the answer: 2xx, a 503 temporarily_unavailable
// with Retry-After, or the 4xx an authorisation session or code lost with
// Redis earns; anything else is bad.
func (h *harness) do(ty *tally, req *http.Request) (int, map[string]any) {
	start := time.Now()
	resp, err := h.http.Do(req)
	took := time.Since(start)
	if err != nil {
		if req.Context().Err() != nil {
			return 0, nil // the load is stopping
		}
		ty.mu.Lock()
		ty.bad = append(ty.bad, fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, err))
		ty.mu.Unlock()
		return 0, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.status[resp.StatusCode]++
	if took > maxAnswerTime {
		ty.slow = append(ty.slow, fmt.Sprintf("%s %s: %v", req.Method, req.URL.Path, took))
	}
	switch {
	case resp.StatusCode < 300:
	case resp.StatusCode == http.StatusServiceUnavailable:
		if body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
			ty.bad = append(ty.bad, fmt.Sprintf("%s %s: 503 without temporarily_unavailable and Retry-After: %q %q",
				req.Method, req.URL.Path, resp.Header.Get("Retry-After"), raw))
		}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
		// A session or code that lived in the killed Redis is gone.
	default:
		ty.bad = append(ty.bad, fmt.Sprintf("%s %s: %d %q", req.Method, req.URL.Path, resp.StatusCode, raw))
	}
	return resp.StatusCode, body
}

func (h *harness) newRequest(ctx context.Context, method, path string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, method, h.issuer+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return req
}

func (h *harness) authzSession(ctx context.Context, ty *tally, method, path string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req := h.newRequest(ctx, method, "/authz-sessions/rest/v3"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+h.apiToken)
	req.Header.Set("Content-Type", "application/json")
	return h.do(ty, req)
}

func (h *harness) token(ctx context.Context, ty *tally, form url.Values) (int, map[string]any) {
	req := h.newRequest(ctx, http.MethodPost, "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(h.clientID), url.QueryEscape(h.clientSecret))
	return h.do(ty, req)
}

// grant is what a finished flow gave the RP.
type grant struct{ accessToken, refreshToken string }

// flow runs one authorisation-code flow with PKCE through the
// authorisation session API, as the login UI would, and redeems the code.
// It returns false when any step did not succeed.
func (h *harness) flow(ctx context.Context, ty *tally) (grant, bool) {
	verifier := oauth2.GenerateVerifier()
	q := url.Values{
		"response_type": {"code"}, "client_id": {h.clientID}, "redirect_uri": {h.redirectURI},
		"scope": {"openid offline_access"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	status, msg := h.authzSession(ctx, ty, http.MethodPost, "", map[string]any{"query": q.Encode()})
	if status != http.StatusOK {
		return grant{}, false
	}
	sid, _ := msg["sid"].(string)
	if msg["type"] == "auth" {
		if status, msg = h.authzSession(ctx, ty, http.MethodPut, "/"+sid, map[string]any{"sub": "alice"}); status != http.StatusOK {
			return grant{}, false
		}
	}
	if msg["type"] == "consent" {
		status, msg = h.authzSession(ctx, ty, http.MethodPut, "/"+sid, map[string]any{
			"scope": []string{"*"}, "long_lived": true, "refresh_token": map[string]any{"issue": true},
		})
		if status != http.StatusOK {
			return grant{}, false
		}
	}
	params, _ := msg["parameters"].(map[string]any)
	uri, _ := params["uri"].(string)
	u, err := url.Parse(uri)
	if msg["type"] != "response" || err != nil || u.Query().Get("code") == "" {
		ty.mu.Lock()
		ty.bad = append(ty.bad, fmt.Sprintf("flow ended without a code: %v", msg))
		ty.mu.Unlock()
		return grant{}, false
	}
	status, tok := h.token(ctx, ty, url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
		"redirect_uri": {h.redirectURI}, "code_verifier": {verifier}})
	if status != http.StatusOK {
		return grant{}, false
	}
	ty.mu.Lock()
	ty.okFlow++
	ty.mu.Unlock()
	at, _ := tok["access_token"].(string)
	rt, _ := tok["refresh_token"].(string)
	return grant{at, rt}, true
}

// load runs workers doing flows until stop is called. Stopping lets the
// flows in progress finish: cancelling their requests would be a client
// going away, which is not what this test is about.
func (h *harness) load(workers int, ty *tally) (stop func()) {
	var stopping atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for !stopping.Load() && h.t.Context().Err() == nil {
				if _, ok := h.flow(h.t.Context(), ty); !ok {
					time.Sleep(50 * time.Millisecond) // do not spin on a dead backend
				}
			}
		})
	}
	return func() { stopping.Store(true); wg.Wait() }
}

// waitReady polls /readyz until it answers want, failing the test
// when that takes longer than within; it returns how long it took.
func (h *harness) waitReady(want int, within time.Duration) time.Duration {
	h.t.Helper()
	start := time.Now()
	last := 0
	for time.Since(start) < within {
		req := h.newRequest(h.t.Context(), http.MethodGet, "/readyz", nil)
		if resp, err := h.http.Do(req); err == nil {
			resp.Body.Close()
			if last = resp.StatusCode; last == want {
				return time.Since(start)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("/readyz answered %d, not %d, for %v", last, want, within)
	return 0
}

// checkLoginPageUnavailable opens the reference sign-in page as a browser
// would and expects the "Try again" page: 503 with Retry-After.
func (h *harness) checkLoginPageUnavailable() {
	h.t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {h.clientID}, "redirect_uri": {h.redirectURI},
		"scope": {"openid"}, "state": {"s"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	resp, err := h.http.Do(h.newRequest(h.t.Context(), http.MethodGet, "/login?"+q.Encode(), nil))
	if err != nil {
		h.t.Fatalf("login page: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "Try again") {
		h.t.Errorf("login page during the fault: %d Retry-After %q %s\n%s", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body)
	}
}

// stillWork checks that the grants issued before a fault still work after
// it: each access token at UserInfo, each refresh token at the token
// endpoint.
func (h *harness) stillWork(grants []grant) {
	h.t.Helper()
	ty := &tally{status: map[int]int{}}
	for i, g := range grants {
		req := h.newRequest(h.t.Context(), http.MethodGet, "/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+g.accessToken)
		if status, body := h.do(ty, req); status != http.StatusOK || body["sub"] != "alice" {
			h.t.Errorf("grant %d: UserInfo with the access token issued before the fault: %d %v", i, status, body)
		}
		status, body := h.token(h.t.Context(), ty, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.refreshToken}})
		if status != http.StatusOK || body["access_token"] == nil {
			h.t.Errorf("grant %d: refresh with the token issued before the fault: %d %v", i, status, body)
		}
	}
}

func (h *harness) grants(n int) []grant {
	h.t.Helper()
	ty := &tally{status: map[int]int{}}
	var out []grant
	for range n {
		g, ok := h.flow(h.t.Context(), ty)
		if !ok || g.refreshToken == "" || g.accessToken == "" {
			h.t.Fatalf("flow before the fault failed: %v %v", ty.status, ty.bad)
		}
		out = append(out, g)
	}
	return out
}

func newHarness(t *testing.T, pgDSN, redisURL string) *harness {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n := testnode.Start(t, server.Options{Log: log}, func(c *config.Config) {
		c.Store = pgDSN
		c.Redis = redisURL
		// One client and one address make the whole load: the per-client
		// and per-address buckets of /token (50 and 100 a second by
		// default) are not what this test is about.
		c.RateLimits.Token = config.EndpointRate{}
	})
	h := &harness{t: t, issuer: n.Issuer, apiToken: n.Server.APIToken(), logs: logs,
		http: &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	h.redirectURI = "http://127.0.0.1:9/callback"
	body, _ := json.Marshal(map[string]any{
		"client_name": "outage RP", "redirect_uris": []string{h.redirectURI},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scope": "openid offline_access",
	})
	req := h.newRequest(t.Context(), http.MethodPost, "/clients", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.apiToken)
	req.Header.Set("Content-Type", "application/json")
	ty := &tally{status: map[int]int{}}
	status, reg := h.do(ty, req)
	if status != http.StatusCreated {
		t.Fatalf("register client: %d %v", status, reg)
	}
	h.clientID, _ = reg["client_id"].(string)
	h.clientSecret, _ = reg["client_secret"].(string)
	return h
}

// TestBackendOutages kills Redis, then PostgreSQL, then stops Redis, each
// during a load of code flows, and checks the outage is explicit (503s,
// not ready) and bounded (recovery, grants intact). See doc.go.
func TestBackendOutages(t *testing.T) {
	rs := startRedis(t)
	pg := startPostgres(t)
	h := newHarness(t, pg.DSN(), rs.URL())
	h.waitReady(http.StatusOK, 10*time.Second)

	faults := []struct {
		name    string
		fault   func()
		recover func()
		// loginPage: the sign-in page needs this backend (authorisation
		// sessions live in Redis; clients are cached from PostgreSQL).
		loginPage bool
	}{
		{"redis killed", rs.kill9, rs.start, true},
		{"postgres killed", pg.kill9, pg.start, false},
		{"redis stopped", func() { rs.signal(syscall.SIGSTOP) }, func() { rs.signal(syscall.SIGCONT) }, true},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			before := h.grants(3)
			ty := &tally{status: map[int]int{}}
			stop := h.load(4, ty)
			if !ty.waitFor(func(_ map[int]int, ok int) bool { return ok >= 4 }, 15*time.Second) {
				stop()
				t.Fatalf("no flows completed before the fault: %v", ty.bad)
			}
			ty.reset()

			f.fault()
			notReady := h.waitReady(http.StatusServiceUnavailable, 8*time.Second)
			if f.loginPage {
				h.checkLoginPageUnavailable()
			}
			// Run the load on the missing backend for 3 s, longer if the
			// first 503 takes longer (a stopped Redis holds each request for
			// the socket timeouts).
			time.Sleep(3 * time.Second)
			ty.waitFor(func(st map[int]int, _ int) bool { return st[http.StatusServiceUnavailable] > 0 }, 15*time.Second)
			during, _ := ty.reset()

			f.recover()
			ready := h.waitReady(http.StatusOK, 20*time.Second)
			// Let the load run on the recovered backend.
			time.Sleep(2 * time.Second)
			ty.waitFor(func(_ map[int]int, ok int) bool { return ok > 0 }, 15*time.Second)
			stop()
			after, okAfter := ty.reset()

			t.Logf("not ready after %v; answers during the fault %v; ready %v after recovery; answers after %v (%d flows)",
				notReady.Round(time.Millisecond), during, ready.Round(time.Millisecond), after, okAfter)
			if during[http.StatusServiceUnavailable] == 0 {
				t.Errorf("no 503 during the fault: %v", during)
			}
			if during[http.StatusInternalServerError] > 0 || after[http.StatusInternalServerError] > 0 {
				t.Errorf("500s: during %v, after %v", during, after)
			}
			if okAfter == 0 {
				t.Errorf("no flow completed after recovery: %v", after)
			}
			for _, b := range ty.bad {
				t.Errorf("bad answer: %s", b)
			}
			for _, s := range ty.slow {
				t.Errorf("answer slower than the request deadline: %s", s)
			}
			h.stillWork(before)
		})
	}
	logs := h.logs.String()
	if strings.Contains(logs, `"internal error"`) || strings.Contains(logs, "panic") {
		t.Errorf("the node logged internal errors:\n%s", grepLines(logs, "internal error", "panic"))
	}
	if n := strings.Count(logs, `"msg":"backend unavailable"`); n == 0 {
		t.Errorf("no outage was logged as a warning")
	}
	t.Logf("log lines at ERROR level: %d\n%s", strings.Count(logs, `"level":"ERROR"`), grepLines(logs, `"level":"ERROR"`))
}

func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("… %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}
