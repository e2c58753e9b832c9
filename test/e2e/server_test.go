package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// TestDiscoveryIsTrue checks the discovery document against the running
// server: every endpoint it names answers, and the values the issue
// requires are there.
func TestDiscoveryIsTrue(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
		status, doc := e.doJSON(req)
		if status != 200 || doc["issuer"] != e.issuer {
			t.Fatalf("%s: %d issuer %v", path, status, doc["issuer"])
		}
		if doc["authorization_response_iss_parameter_supported"] != true {
			t.Error("authorization_response_iss_parameter_supported is not true")
		}
		for _, member := range []string{"id_token_signing_alg_values_supported", "response_types_supported",
			"subject_types_supported", "code_challenge_methods_supported", "grant_types_supported"} {
			if list, ok := doc[member].([]any); !ok || len(list) == 0 {
				t.Errorf("%s missing or empty", member)
			}
		}
		if algs := doc["id_token_signing_alg_values_supported"].([]any); !slices.Contains(algs, any("RS256")) {
			t.Errorf("id_token_signing_alg_values_supported = %v lacks RS256", algs)
		}
		for _, ep := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
			"registration_endpoint", "pushed_authorization_request_endpoint"} {
			u, _ := doc[ep].(string)
			resp, err := e.http.Get(u)
			if err != nil {
				t.Errorf("%s %s: %v", ep, u, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
				t.Errorf("%s %s answers %d", ep, u, resp.StatusCode)
			}
		}
	}
}

// TestSessionsSurviveRestart: a subject session and a refresh token issued
// by one server process are honoured by the next one on the same data dir.
func TestSessionsSurviveRestart(t *testing.T) {
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	cfg := config.Default()
	cfg.Issuer, cfg.DataDir, cfg.Demo, cfg.Dev = issuer, t.TempDir(), true, true
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	first, err := server.New(t.Context(), cfg, server.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h := newSwappable(first.Handler())
	ts.Config.Handler = h
	ts.Start()
	defer ts.Close()
	e := &env{t: t, issuer: issuer, apiToken: first.APIToken(), srv: first,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	r := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	params, subSID := r.loginViaAPI(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "")
	tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	first.Close()

	second, err := server.New(t.Context(), cfg, server.Options{Log: log})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer second.Close()
	h.set(second.Handler())
	if second.APIToken() != first.APIToken() {
		t.Error("the API token changed across a restart")
	}
	status, msg := e.authzSession(http.MethodPost, "", map[string]any{
		"query":   queryOf(t, r.conf.AuthCodeURL("st2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		"sub_sid": subSID,
	})
	if status != 200 || msg["type"] == "auth" {
		t.Errorf("after restart the subject session was not recognised: %d %v", status, msg)
	}
	status, body, _ := e.postForm("/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, r.clientID, r.clientSecret)
	if status != 200 {
		t.Errorf("refresh after restart: %d %v", status, body)
	}
}

// TestLoopbackHTTPRedirectNeedsDevMode: without --dev a web client may not
// register an http:// redirect URI, not even on loopback.
func TestLoopbackHTTPRedirectNeedsDevMode(t *testing.T) {
	prod := newEnv(t, func(c *config.Config) { c.Demo, c.Dev = false, false })
	status, body := prod.registerClient(map[string]any{"redirect_uris": []string{"http://127.0.0.1:8000/cb"}})
	if status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Errorf("without --dev: %d %v, want 400 invalid_redirect_uri", status, body)
	}
	status, body = prod.registerClient(map[string]any{"redirect_uris": []string{"https://app.example/cb#frag"}})
	if status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Errorf("fragment: %d %v, want 400 invalid_redirect_uri", status, body)
	}
	status, _ = prod.registerClient(map[string]any{"redirect_uris": []string{"https://app.example/cb"}})
	if status != 201 {
		t.Errorf("https redirect URI refused: %d", status)
	}
	dev := newEnv(t)
	if status, body := dev.registerClient(map[string]any{"redirect_uris": []string{"http://127.0.0.1:8000/cb"}}); status != 201 {
		t.Errorf("with --dev: %d %v, want 201", status, body)
	}
}

// swappable lets a test replace the server behind a listener, as a restart
// behind a load balancer would.
type swappable struct{ h atomic.Pointer[http.Handler] }

func newSwappable(h http.Handler) *swappable {
	s := &swappable{}
	s.set(h)
	return s
}

func (s *swappable) set(h http.Handler) { s.h.Store(&h) }

func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// TestClientConfigurationEndpoint: RFC 7592 read, update and delete with the
// registration access token; the master token; wrong tokens refused.
func TestClientConfigurationEndpoint(t *testing.T) {
	e := newEnv(t)
	status, reg := e.registerClient(map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "client_name": "App"})
	if status != 201 {
		t.Fatalf("register: %d %v", status, reg)
	}
	uri, _ := reg["registration_client_uri"].(string)
	token, _ := reg["registration_access_token"].(string)
	if uri != e.issuer+"/clients/"+reg["client_id"].(string) || token == "" {
		t.Fatalf("registration_client_uri %q, token present %v", uri, token != "")
	}
	call := func(method, tok string, body map[string]any) (int, map[string]any) {
		var rd *strings.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, uri, rd)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return e.doJSON(req)
	}
	if status, body := call(http.MethodGet, token, nil); status != 200 || body["client_name"] != "App" || body["client_secret"] != nil {
		t.Errorf("read: %d %v (the secret must not be echoed)", status, body)
	}
	for _, bad := range []string{"", "wrong-token"} {
		if status, body := call(http.MethodGet, bad, nil); status != 401 || body["error"] != "invalid_token" {
			t.Errorf("read with token %q: %d %v, want 401 invalid_token", bad, status, body)
		}
	}
	status, upd := call(http.MethodPut, token, map[string]any{"client_id": reg["client_id"], "redirect_uris": []string{"https://app.example/cb2"}, "client_name": "App 2"})
	if status != 200 || upd["client_name"] != "App 2" {
		t.Fatalf("update: %d %v", status, upd)
	}
	newToken, _ := upd["registration_access_token"].(string)
	if newToken == "" {
		newToken = token
	}
	if status, body := call(http.MethodPut, newToken, map[string]any{"client_id": reg["client_id"], "redirect_uris": []string{"https://app.example/cb#x"}}); status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Errorf("update with a fragment: %d %v", status, body)
	}
	if status, body := call(http.MethodGet, e.apiToken, nil); status != 200 || body["client_name"] != "App 2" {
		t.Errorf("read with the master token: %d %v", status, body)
	}
	if status, _ := call(http.MethodDelete, newToken, nil); status != 204 {
		t.Errorf("delete: %d, want 204", status)
	}
	if status, _ := call(http.MethodGet, e.apiToken, nil); status != 404 {
		t.Errorf("read after delete with the master token: %d, want 404", status)
	}
	if status, body := e.registerClient(map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}); status != 400 || body["error"] != "invalid_redirect_uri" {
		t.Errorf("javascript: redirect URI: %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/clients", strings.NewReader(`{"redirect_uris":["https://x.example/cb"]}`))
	req.Header.Set("Content-Type", "application/json")
	if status, body := e.doJSON(req); status != 401 {
		t.Errorf("registration without a token while open registration is off: %d %v", status, body)
	}
}

// TestMonitorPingNeedsToken: the monitoring API takes the API token or a
// monitoring token in the header and, for load balancers, a monitoring
// token as ?access_token= — never the API token, which opens every
// integration API and would end up in proxy logs.
func TestMonitorPingNeedsToken(t *testing.T) {
	const monitorToken = "monitoring-only-token-5a1b2c3d4e5f60718293"
	sum := sha256.Sum256([]byte(monitorToken))
	e := newEnv(t, func(c *config.Config) { c.APITokens.Monitor = []string{hex.EncodeToString(sum[:])} })
	get := func(u, token string) int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		status, body := e.doStatus(req)
		if status == http.StatusOK && body != "pong" {
			t.Errorf("ping answered %q, want pong", body)
		}
		return status
	}
	ping := e.issuer + "/monitor/v1/ping"
	for _, tc := range []struct {
		name, url, header string
		want              int
	}{
		{"no token", ping, "", 401},
		{"wrong token", ping, "not-the-token-not-the-token-0000", 401},
		{"API token in the header", ping, e.apiToken, 200},
		{"monitoring token in the header", ping, monitorToken, 200},
		{"monitoring token in the query", ping + "?access_token=" + monitorToken, "", 200},
		{"API token in the query", ping + "?access_token=" + url.QueryEscape(e.apiToken), "", 401},
		{"wrong token in the query", ping + "?access_token=not-the-token-not-the-token-0000", "", 401},
	} {
		if s := get(tc.url, tc.header); s != tc.want {
			t.Errorf("ping with %s: %d, want %d", tc.name, s, tc.want)
		}
	}
}

// TestUserInfoNeedsOpenIDScope: a plain OAuth access token is refused at
// UserInfo with 403 insufficient_scope and a WWW-Authenticate challenge.
func TestUserInfoNeedsOpenIDScope(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	r.conf.Scopes = []string{"email"}
	verifier := oauth2.GenerateVerifier()
	params, _ := r.loginViaAPI(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "")
	tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("id_token") != nil {
		t.Error("an ID token was issued without the openid scope")
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("status %d, WWW-Authenticate %q; want 403 with insufficient_scope", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
