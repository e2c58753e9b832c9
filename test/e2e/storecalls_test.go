package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/tracing/otlptest"
)

// traceAll puts one sampled W3C traceparent on every request, so that a
// node tracing at ratio 0 records exactly these requests' spans.
type traceAll struct {
	next        http.RoundTripper
	traceparent string
}

func (t traceAll) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Traceparent", t.traceparent)
	return t.next.RoundTrip(r)
}

// maxStoreCallsPerFlow bounds the store round trips of one complete code
// flow as `keyward bench` authcode runs it (docs/performance.md): start,
// authenticate, consent, redeem, UserInfo. Each call is a span of the
// store tracing decorator. Lower it when a change removes calls; a change
// that adds calls must say why (every call is a round trip to SQLite,
// PostgreSQL or Redis on the hot path).
const maxStoreCallsPerFlow = 15

// TestStoreCallsPerCodeFlow counts the store calls of one complete code
// flow, so that a regression in round trips shows here rather than only
// in a benchmark.
func TestStoreCallsPerCodeFlow(t *testing.T) {
	recv := otlptest.Start(t)
	e := newEnv(t, func(c *config.Config) {
		c.Tracing.OTLPEndpoint = recv.URL
		c.Tracing.SampleRatio = 0
	})
	const redirect = "https://rp.example.com/cb"
	status, reg := e.registerClient(map[string]any{"redirect_uris": []string{redirect},
		"grant_types": []string{"authorization_code"}, "scope": "openid email"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	verifier := strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	query := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect},
		"scope": {"openid email"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}.Encode()

	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	base := e.http.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	e.http.Transport = traceAll{base, "00-" + trace + "-00f067aa0ba902b7-01"}

	status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": query})
	if status != http.StatusOK || msg["type"] != "auth" {
		t.Fatalf("start: %d %v", status, msg)
	}
	sid := "/" + msg["sid"].(string)
	if status, msg = e.authzSession(http.MethodPut, sid, map[string]any{"sub": "alice", "amr": []string{"pwd"}}); msg["type"] != "consent" {
		t.Fatalf("authenticate: %d %v", status, msg)
	}
	if status, msg = e.authzSession(http.MethodPut, sid, map[string]any{"scope": []string{"*"}, "claims": []string{"*"}}); msg["type"] != "response" {
		t.Fatalf("consent: %d %v", status, msg)
	}
	code := redirectParams(t, msg).Get("code")
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, sec)
	status, tok := e.doJSON(req)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	req, _ = http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui map[string]any
	json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ui["sub"] != "alice" {
		t.Fatalf("userinfo: %d %v", resp.StatusCode, ui)
	}
	e.http.Transport = base
	if err := e.srv.Close(); err != nil { // flushes the spans
		t.Fatal(err)
	}

	calls := map[string]int{}
	total := 0
	servers := 0
	for _, s := range recv.Spans() {
		if otlptest.TraceID(s) != trace {
			continue
		}
		if strings.HasPrefix(s.Name, "store.") {
			calls[s.Name]++
			total++
		} else if otlptest.Attr(s, "url.path") != "" {
			servers++
		}
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(calls)) {
		lines = append(lines, k+" ×"+strconv.Itoa(calls[k]))
	}
	t.Logf("%d store calls in one flow over %d requests:\n  %s", total, servers, strings.Join(lines, "\n  "))
	if servers != 5 {
		t.Errorf("%d server spans in the trace, want the flow's 5 requests", servers)
	}
	if total == 0 {
		t.Fatal("no store call recorded: the count proves nothing")
	}
	if total > maxStoreCallsPerFlow {
		t.Errorf("%d store calls per code flow, at most %d allowed", total, maxStoreCallsPerFlow)
	}
}
