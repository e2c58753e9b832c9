package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
)

// The limits of docs/api.md §18 through a real node and real HTTP.

// slow is a bucket that gives its burst and then nothing for the length
// of a test.
func slow(burst int) config.Rate { return config.Rate{Rate: 0.0001, Burst: burst} }

// noRateLimits turns every bucket off, so that a test sees one at a time.
func noRateLimits(cfg *config.Config) { cfg.RateLimits = config.RateLimits{} }

// serviceClient registers a client_credentials client.
func (e *env) serviceClient() (id, secret string) {
	e.t.Helper()
	status, reg := e.registerClient(map[string]any{"grant_types": []string{"client_credentials"}, "scope": "read"})
	if status != http.StatusCreated {
		e.t.Fatalf("register: %d %v", status, reg)
	}
	return reg["client_id"].(string), reg["client_secret"].(string)
}

// send posts a form (or a GET when form is nil) with extra headers and
// returns the status, the decoded body and the headers.
func (e *env) send(method, path string, form url.Values, hdr map[string]string) (int, map[string]any, http.Header) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, e.issuer+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}

// want429 checks a rate-limit answer: 429, Retry-After in whole seconds,
// and the OAuth error body.
func want429(t *testing.T, what string, status int, body map[string]any, hdr http.Header) {
	t.Helper()
	if status != http.StatusTooManyRequests || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") == "" {
		t.Errorf("%s: %d %v Retry-After %q, want 429 temporarily_unavailable with Retry-After", what, status, body, hdr.Get("Retry-After"))
	}
}

// Over its per-client limit a client gets 429 with Retry-After, while
// another client calling at the same time is unaffected.
func TestTokenPerClientLimitLeavesOtherClientsAlone(t *testing.T) {
	e := newEnv(t, noRateLimits, func(c *config.Config) { c.RateLimits.Token.PerClient = slow(3) })
	flooder, fsecret := e.serviceClient()
	other, osecret := e.serviceClient()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

	type result struct {
		who    string
		status int
		body   map[string]any
		hdr    http.Header
	}
	results := make(chan result, 23)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			s, b, h := e.postForm("/token", form, flooder, fsecret)
			results <- result{"flooder", s, b, h}
		})
	}
	for range 3 {
		wg.Go(func() {
			s, b, h := e.postForm("/token", form, other, osecret)
			results <- result{"other", s, b, h}
		})
	}
	wg.Wait()
	close(results)
	got := map[string]map[int]int{"flooder": {}, "other": {}}
	for r := range results {
		got[r.who][r.status]++
		if r.status == http.StatusTooManyRequests {
			want429(t, r.who, r.status, r.body, r.hdr)
		}
	}
	if got["flooder"][200] != 3 || got["flooder"][429] != 17 {
		t.Errorf("flooding client: statuses %v, want 3×200 and 17×429", got["flooder"])
	}
	if got["other"][200] != 3 {
		t.Errorf("other client: statuses %v, want 3×200", got["other"])
	}
	// The client_id form parameter and a client assertion's sub count as
	// the same client as HTTP Basic.
	s, b, h := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {flooder}, "client_secret": {fsecret}}, "", "")
	want429(t, "client_id in the form", s, b, h)
}

// Every limited endpoint answers 429 past its per-address bucket.
func TestPerAddressLimitOnEveryEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		set      func(*config.RateLimits, config.Rate)
		method   string
		path     string
	}{
		{"token", func(r *config.RateLimits, v config.Rate) { r.Token.PerAddress = v }, http.MethodPost, "/token"},
		{"par", func(r *config.RateLimits, v config.Rate) { r.PAR.PerAddress = v }, http.MethodPost, "/par"},
		{"introspect", func(r *config.RateLimits, v config.Rate) { r.Introspect.PerAddress = v }, http.MethodPost, "/token/introspect"},
		{"revoke", func(r *config.RateLimits, v config.Rate) { r.Revoke.PerAddress = v }, http.MethodPost, "/token/revoke"},
		{"registration", func(r *config.RateLimits, v config.Rate) { r.Registration.PerAddress = v }, http.MethodPost, "/clients"},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			e := newEnv(t, noRateLimits, func(c *config.Config) { tc.set(&c.RateLimits, slow(2)) })
			form := url.Values{"token": {"x"}, "grant_type": {"client_credentials"}}
			for i := range 2 {
				if s, b, _ := e.send(tc.method, tc.path, form, nil); s == http.StatusTooManyRequests {
					t.Fatalf("request %d within the burst: %d %v", i, s, b)
				}
			}
			s, b, h := e.send(tc.method, tc.path, form, nil)
			want429(t, tc.endpoint, s, b, h)
			// Other endpoints have their own buckets.
			if s, _, _ := e.send(http.MethodGet, "/.well-known/openid-configuration", nil, nil); s != http.StatusOK {
				t.Errorf("discovery after the limit: %d", s)
			}
		})
	}
}

// Only a trusted proxy may name the client address; the access log and
// the limits use the address it names.
func TestTrustedProxiesSetTheClientAddress(t *testing.T) {
	t.Run("trusted", func(t *testing.T) {
		e := newEnv(t, noRateLimits, func(c *config.Config) {
			c.TrustedProxies = []string{"127.0.0.1", "::1"}
			c.RateLimits.Token.PerAddress = slow(1)
		})
		xff := func(a string) map[string]string { return map[string]string{"X-Forwarded-For": "203.0.113.50, " + a} }
		if s, _, _ := e.send(http.MethodPost, "/token", url.Values{}, xff("198.51.100.1")); s == 429 {
			t.Fatal("first request from 198.51.100.1 refused")
		}
		s, b, h := e.send(http.MethodPost, "/token", url.Values{}, xff("198.51.100.1"))
		want429(t, "second from 198.51.100.1", s, b, h)
		// Another forwarded address has its own bucket; the forged entry
		// left of it is ignored.
		if s, _, _ := e.send(http.MethodPost, "/token", url.Values{}, xff("198.51.100.2")); s == 429 {
			t.Error("198.51.100.2 limited by 198.51.100.1's bucket")
		}
		// Forwarded is not the configured header: a client's own is
		// ignored, and both requests count against the proxy's address.
		e.send(http.MethodPost, "/token", url.Values{}, map[string]string{"Forwarded": `for="198.51.100.3"`})
		s, b, h = e.send(http.MethodPost, "/token", url.Values{}, map[string]string{"Forwarded": `for="198.51.100.4"`})
		want429(t, "Forwarded while X-Forwarded-For is the header", s, b, h)
	})
	t.Run("Forwarded", func(t *testing.T) {
		e := newEnv(t, noRateLimits, func(c *config.Config) {
			c.TrustedProxies, c.TrustedProxyHeader = []string{"127.0.0.0/8", "::1"}, "Forwarded"
			c.RateLimits.Token.PerAddress = slow(1)
		})
		fwd := func(a string) map[string]string { return map[string]string{"Forwarded": `for="` + a + `"`} }
		e.send(http.MethodPost, "/token", url.Values{}, fwd("198.51.100.3"))
		s, b, h := e.send(http.MethodPost, "/token", url.Values{}, fwd("198.51.100.3"))
		want429(t, "second from 198.51.100.3", s, b, h)
		if s, _, _ := e.send(http.MethodPost, "/token", url.Values{}, fwd("[2001:db8::3]:4711")); s == 429 {
			t.Error("another Forwarded address limited by 198.51.100.3's bucket")
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		e := newEnv(t, noRateLimits, func(c *config.Config) { c.RateLimits.Token.PerAddress = slow(1) })
		e.send(http.MethodPost, "/token", url.Values{}, map[string]string{"X-Forwarded-For": "198.51.100.1"})
		// A different forged address does not buy a new bucket.
		s, b, h := e.send(http.MethodPost, "/token", url.Values{}, map[string]string{"X-Forwarded-For": "198.51.100.2"})
		want429(t, "forged X-Forwarded-For from an untrusted peer", s, b, h)
	})
}

// Failed integration API authentications use up the address's bucket;
// past it even the right token is refused, until it refills, and other
// addresses are not affected.
func TestAPIAuthFailuresAreThrottled(t *testing.T) {
	e := newEnv(t, noRateLimits, func(c *config.Config) {
		c.TrustedProxies = []string{"127.0.0.1", "::1"}
		c.RateLimits.APIAuthFailures.PerAddress = slow(3)
	})
	from := func(addr, token string) (int, map[string]any, http.Header) {
		return e.send(http.MethodGet, "/authz-store/rest/v3/subjects?client_id=x", nil,
			map[string]string{"Authorization": "Bearer " + token, "X-Forwarded-For": addr})
	}
	// Correct calls spend nothing.
	for range 5 {
		if s, _, _ := from("198.51.100.1", e.apiToken); s == 429 || s == 401 {
			t.Fatalf("right token: %d", s)
		}
	}
	for i := range 3 {
		if s, b, _ := from("198.51.100.1", "wrong-token"); s != 401 {
			t.Fatalf("wrong token %d: %d %v, want 401", i, s, b)
		}
	}
	s, b, h := from("198.51.100.1", "wrong-token")
	want429(t, "4th wrong token", s, b, h)
	s, b, h = from("198.51.100.1", e.apiToken)
	want429(t, "right token after the limit", s, b, h)
	if s, _, _ := from("198.51.100.2", e.apiToken); s == 429 || s == 401 {
		t.Errorf("another address: %d", s)
	}
}

// Every response carries nosniff and no-referrer; every response that
// carries a token or a secret is no-store.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	id, secret := e.serviceClient()
	tokenForm := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
	status, tok, _ := e.postForm("/token", tokenForm, id, secret)
	if status != 200 {
		t.Fatalf("token: %d %v", status, tok)
	}
	bearer := map[string]string{"Authorization": "Bearer " + e.apiToken}
	basic := func() map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(id, secret)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	regBody := `{"grant_types":["client_credentials"]}`
	// postAPI posts a JSON body with the API token and returns the status
	// and headers.
	postAPI := func(path, body string) (int, http.Header) {
		req, _ := http.NewRequest("POST", e.issuer+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	cases := []struct {
		name    string
		do      func() (int, http.Header)
		noStore bool
	}{
		{"discovery", func() (int, http.Header) {
			s, _, h := e.send("GET", "/.well-known/openid-configuration", nil, nil)
			return s, h
		}, false},
		{"jwks", func() (int, http.Header) { s, _, h := e.send("GET", "/jwks.json", nil, nil); return s, h }, false},
		{"token", func() (int, http.Header) { s, _, h := e.postForm("/token", tokenForm, id, secret); return s, h }, true},
		{"token error", func() (int, http.Header) { s, _, h := e.postForm("/token", tokenForm, id, "wrong"); return s, h }, true},
		{"introspection", func() (int, http.Header) {
			s, _, h := e.send("POST", "/token/introspect", url.Values{"token": {tok["access_token"].(string)}}, basic())
			return s, h
		}, true},
		{"registration", func() (int, http.Header) {
			return postAPI("/clients", regBody)
		}, true},
		{"authz session API", func() (int, http.Header) {
			return postAPI("/authz-sessions/rest/v3", `{"query":"client_id=nobody"}`)
		}, true},
		{"session store API", func() (int, http.Header) {
			s, _, h := e.send("GET", "/session-store/rest/v2/sessions?subject=alice", nil, bearer)
			return s, h
		}, true},
		{"login page", func() (int, http.Header) { s, _, h := e.send("GET", "/login?client_id=x", nil, nil); return s, h }, true},
		{"not found", func() (int, http.Header) { s, _, h := e.send("GET", "/nothing-here", nil, nil); return s, h }, false},
		{"readyz", func() (int, http.Header) { s, _, h := e.send("GET", "/readyz", nil, nil); return s, h }, false},
	}
	for _, c := range cases {
		status, h := c.do()
		if status >= 500 {
			t.Errorf("%s: status %d", c.name, status)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: X-Content-Type-Options %q Referrer-Policy %q", c.name, h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
		if c.noStore && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s (status %d): Cache-Control %q, want no-store", c.name, status, h.Get("Cache-Control"))
		}
	}
}

// Bodies over http.max_body_bytes are refused with 413; a larger setting
// lets them through; a truncated body is a 400, never a 5xx.
func TestBodyLimits(t *testing.T) {
	big := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Repeat("a", 100_000)}}
	t.Run("default", func(t *testing.T) {
		e := newEnv(t)
		id, secret := e.serviceClient()
		for _, path := range []string{"/token", "/par", "/token/introspect", "/token/revoke"} {
			s, b, _ := e.postForm(path, big, id, secret)
			if s != http.StatusRequestEntityTooLarge || b["error"] != "invalid_request" || b["error_description"] != "request body too large" {
				t.Errorf("100 KB body to %s: %d %v, want 413 invalid_request", path, s, b)
			}
		}
		// A JSON body of an integration API too.
		req, _ := http.NewRequest("POST", e.issuer+"/authz-sessions/rest/v3",
			strings.NewReader(`{"query":"`+strings.Repeat("a", 100_000)+`"}`))
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		req.Header.Set("Content-Type", "application/json")
		if s, b := e.doJSON(req); s != http.StatusRequestEntityTooLarge || b["error"] != "invalid_request" {
			t.Errorf("100 KB JSON: %d %v, want 413 invalid_request", s, b)
		}
		// A body that stops before its Content-Length.
		s, resp := rawRequest(t, e.issuer, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			"Content-Length: 100\r\nConnection: close\r\n\r\ngrant_type=client_cred")
		if s != http.StatusBadRequest || !strings.Contains(resp, `"invalid_request"`) {
			t.Errorf("truncated body: %d %s, want 400 invalid_request", s, resp)
		}
	})
	t.Run("raised", func(t *testing.T) {
		e := newEnv(t, func(c *config.Config) { c.HTTP.MaxBodyBytes = 200_000 })
		id, secret := e.serviceClient()
		s, b, _ := e.postForm("/token", big, id, secret)
		if s == http.StatusRequestEntityTooLarge || s >= 500 {
			t.Errorf("100 KB body under a 200 KB limit: %d %v", s, b)
		}
	})
}

// rawRequest writes raw to a new connection, half-closes it, and returns
// the response's status and body.
func rawRequest(t *testing.T, issuer, raw string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(issuer, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// A flood that fills the token class is refused at once with 503 and
// Retry-After, and starves neither the probes, the login UI nor the
// integration APIs. A client that sends its body slowly holds no slot.
func TestAdmissionKeepsClassesApart(t *testing.T) {
	e := newEnv(t, noRateLimits, func(c *config.Config) {
		c.Admission.Token = config.AdmissionClass{MaxInFlight: 1, MaxQueue: 1, QueueTimeout: time.Millisecond}
	})
	id, secret := e.serviceClient()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

	// Token requests whose bodies never finish take no slot.
	for range 3 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.issuer, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant")
	}
	if s, b, _ := e.postForm("/token", form, id, secret); s != http.StatusOK {
		t.Fatalf("token request beside three slow bodies: %d %v", s, b)
	}

	// A flood of parallel token requests over one slot and a queue of
	// one is shed, while the other classes answer.
	stop := make(chan struct{})
	var shed, served atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, b, h := e.postForm("/token", form, id, secret)
				switch s {
				case http.StatusServiceUnavailable:
					if b["error"] != "temporarily_unavailable" || h.Get("Retry-After") == "" {
						t.Errorf("shed request: %v Retry-After %q", b, h.Get("Retry-After"))
					}
					shed.Add(1)
				case http.StatusOK:
					served.Add(1)
				default:
					t.Errorf("token during the flood: %d %v", s, b)
				}
			}
		})
	}
	for i := 0; shed.Load() == 0 || served.Load() == 0; i++ {
		if i == 3000 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, path := range []string{"/readyz", "/healthz", "/login?client_id=x"} {
		if s, _, _ := e.send("GET", path, nil, nil); s != http.StatusOK && s != http.StatusBadRequest {
			t.Errorf("%s during the token flood: %d", path, s)
		}
	}
	req, _ := http.NewRequest("GET", e.issuer+"/monitor/v1/ping", nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if s, body := e.doStatus(req); s != http.StatusOK {
		t.Errorf("ping during the token flood: %d %s", s, body)
	}
	if s, b, _ := e.send("GET", "/authz-store/rest/v3/subjects?client_id=x", nil, map[string]string{"Authorization": "Bearer " + e.apiToken}); s >= 500 {
		t.Errorf("authz store API during the token flood: %d %v", s, b)
	}
	close(stop)
	wg.Wait()
	if shed.Load() == 0 || served.Load() == 0 {
		t.Fatalf("flood: %d served, %d shed; want both", served.Load(), shed.Load())
	}
	// The shed requests are counted for the operator.
	req, _ = http.NewRequest("GET", e.issuer+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if _, body := e.doStatus(req); !strings.Contains(body, "keyward_admission_token_refused_total ") ||
		strings.Contains(body, "keyward_admission_token_refused_total 0\n") {
		t.Errorf("metrics do not count the shed token requests")
	}
	// With the flood over, token requests are admitted again.
	if s, b, _ := e.postForm("/token", form, id, secret); s != http.StatusOK {
		t.Errorf("token after the flood: %d %v", s, b)
	}
}

// A PAR flood stops at limits.max_par_requests with 503 and Retry-After;
// the authorisation session cap holds the same way.
func TestCapsHoldUnderFlood(t *testing.T) {
	e := newEnv(t, noRateLimits, func(c *config.Config) {
		c.Limits.MaxPARRequests, c.Limits.MaxAuthzSessions = 3, 2
	})
	r := e.newRP(nil)
	push := url.Values{"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirectURI},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	statuses := make(chan int, 30)
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			s, b, h := e.postForm("/par", push, r.clientID, r.clientSecret)
			if s == http.StatusServiceUnavailable && (b["error"] != "temporarily_unavailable" || h.Get("Retry-After") == "") {
				t.Errorf("over the cap: %v Retry-After %q", b, h.Get("Retry-After"))
			}
			statuses <- s
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusCreated] != 3 || got[http.StatusServiceUnavailable] != 27 {
		t.Errorf("PAR flood: %v, want 3×201 and 27×503", got)
	}

	q := url.Values{"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirectURI}, "scope": {"openid"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}
	for i := range 2 {
		if s, m := e.startQuery(q); s != 200 {
			t.Fatalf("authz session %d: %d %v", i, s, m)
		}
	}
	s, m := e.startQuery(q)
	if s != http.StatusServiceUnavailable || m["error"] != "temporarily_unavailable" {
		t.Errorf("third authz session over a cap of 2: %d %v", s, m)
	}
}
