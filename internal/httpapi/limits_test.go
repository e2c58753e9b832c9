package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/admission"
	"github.com/keyward/keyward/internal/ratelimit"
)

func TestClassOf(t *testing.T) {
	for path, want := range map[string]RouteClass{
		"/token": ClassToken, "/par": ClassToken, "/token/introspect": ClassToken, "/clients/abc": ClassToken,
		"/userinfo": ClassToken, "/.well-known/openid-configuration": ClassToken, "/jwks.json": ClassToken,
		"/login": ClassUI, "/login/authenticate": ClassUI, "/logout": ClassUI, "/authz-sessions/rest/v3": ClassUI,
		"/authz-sessions/rest/v3/x": ClassUI, "/logout-sessions/rest/v1": ClassUI,
		"/direct-authz/rest/v2": ClassAPI, "/authz-store/rest/v3/subjects": ClassAPI, "/session-store/rest/v2/sessions": ClassAPI,
		"/healthz": ClassMonitor, "/readyz": ClassMonitor, "/metrics": ClassMonitor, "/monitor/v1/ping": ClassMonitor,
		"/debug/pprof/profile": ClassMonitor,
		"/loginx": ClassToken,
	} {
		if got := classOf(path); got != want {
			t.Errorf("classOf(%s) = %s, want %s", path, got, want)
		}
	}
}

func TestClaimedClient(t *testing.T) {
	sub := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"c3","sub":"c3"}`))
	cases := []struct {
		name string
		req  func() *http.Request
		want string
	}{
		{"basic, form-encoded id", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader("grant_type=x"))
			r.SetBasicAuth(url.QueryEscape("a b"), "s")
			return r
		}, "a b"},
		{"client_id parameter", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader("client_id=c2"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "c2"},
		{"client assertion", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader("client_assertion=e30."+sub+".sig"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "c3"},
		{"garbage assertion", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader("client_assertion=%00.%ff.x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, ""},
		{"no form", func() *http.Request { return httptest.NewRequest("POST", "/token", strings.NewReader("{}")) }, ""},
	}
	for _, c := range cases {
		got, err := claimedClient(httptest.NewRecorder(), c.req(), "token")
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, got, err, c.want)
		}
	}
	if got, _ := claimedClient(nil, httptest.NewRequest("PUT", "/clients/c9", nil), "registration"); got != "c9" {
		t.Errorf("registration path: %q", got)
	}
	// A body over the cap is refused while the client is looked for.
	r := httptest.NewRequest("POST", "/token", strings.NewReader("client_id="+strings.Repeat("a", maxBodyBytes)))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := claimedClient(httptest.NewRecorder(), r, "token"); err != errBodyTooLarge {
		t.Errorf("oversized body: %v", err)
	}
}

// The built-in login UI's calls to the node's own APIs carry no address:
// they pass no admission gate and no bucket (the browser request they
// serve was counted).
func TestInProcessRequestsAreNotLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.api.Limits = Limits{Token: RateLimit{PerAddress: ratelimit.New(0.0001, 1, 0, nil)}}
	h := e.api.Limits.ClientAddr.Handler(e.api.withLimits(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	status := func(remote string) int {
		r := httptest.NewRequest("POST", "/token", nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if status("192.0.2.1:1") != 204 || status("192.0.2.1:1") != 429 {
		t.Fatal("the bucket of 192.0.2.1 should hold one request")
	}
	for range 5 {
		if s := status(InProcessRemoteAddr); s != 204 {
			t.Fatalf("in-process request: %d", s)
		}
	}
	// A request without an IP address (a Unix socket) is limited all the
	// same, in one shared bucket.
	if status("@") != 204 || status("@") != 429 {
		t.Error("a request without an IP address escaped the limit")
	}
}

func TestRetryAfterAddedTo503And429(t *testing.T) {
	for code, want := range map[int]string{503: "1", 429: "1", 400: "", 200: ""} {
		rec := httptest.NewRecorder()
		w := &retryAfterWriter{ResponseWriter: rec}
		w.WriteHeader(code)
		if got := rec.Header().Get("Retry-After"); got != want {
			t.Errorf("%d: Retry-After %q, want %q", code, got, want)
		}
	}
	rec := httptest.NewRecorder()
	w := &retryAfterWriter{ResponseWriter: rec}
	w.Header().Set("Retry-After", "30")
	w.WriteHeader(503)
	if rec.Header().Get("Retry-After") != "30" {
		t.Error("an explicit Retry-After was replaced")
	}
}

// A full token class sheds token requests at once with 503 and
// Retry-After, while the monitor and ui classes are served; a slot frees
// when its request ends.
func TestAdmissionClassesAreSeparate(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.api.Limits = Limits{Admission: map[RouteClass]*admission.Gate{
		ClassToken:   admission.NewGate(admission.Limit{MaxInFlight: 1, QueueTimeout: time.Hour}),
		ClassMonitor: admission.NewGate(admission.Limit{MaxInFlight: 1, QueueTimeout: time.Hour}),
		ClassUI:      admission.NewGate(admission.Limit{MaxInFlight: 1, QueueTimeout: time.Hour}),
	}}
	entered, release := make(chan struct{}), make(chan struct{})
	h := e.api.withLimits(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" && r.Header.Get("X-Hold") != "" {
			close(entered)
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	serve := func(path string, hold bool) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, nil)
		if hold {
			r.Header.Set("X-Hold", "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	done := make(chan struct{})
	go func() { serve("/token", true); close(done) }()
	<-entered
	rec := serve("/token", false)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), `"temporarily_unavailable"`) {
		t.Errorf("token while full: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	for _, path := range []string{"/readyz", "/monitor/v1/ping", "/login", "/authz-sessions/rest/v3"} {
		if c := serve(path, false).Code; c != http.StatusNoContent {
			t.Errorf("%s while the token class is full: %d", path, c)
		}
	}
	close(release)
	<-done
	if c := serve("/token", false).Code; c != http.StatusNoContent {
		t.Errorf("token after the slot freed: %d", c)
	}
}
