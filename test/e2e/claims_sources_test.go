package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// loginWithSessionClaims runs the authorisation session API flow, handing
// claims captured at login in the subject authentication PUT, and returns
// the redirect parameters and the subject session ID.
func (r *rp) loginWithSessionClaims(authURL, sub string, sessionClaims map[string]any) (code, subSID string) {
	t := r.e.t
	t.Helper()
	status, msg := r.e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, authURL)})
	if status != http.StatusOK || msg["type"] != "auth" {
		t.Fatalf("start: status %d: %v", status, msg)
	}
	sid, _ := msg["sid"].(string)
	status, msg = r.e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": sub, "amr": []string{"pwd"}, "claims": sessionClaims})
	if status != http.StatusOK {
		t.Fatalf("submit auth: status %d: %v", status, msg)
	}
	if msg["type"] == "consent" {
		status, msg = r.e.authzSession(http.MethodPut, "/"+sid, map[string]any{"scope": []string{"*"}, "claims": []string{"*"}})
		if status != http.StatusOK {
			t.Fatalf("submit consent: status %d: %v", status, msg)
		}
	}
	subSID, _ = msg["sub_sid"].(string)
	return redirectParams(t, msg).Get("code"), subSID
}

// userInfo calls UserInfo with a bearer token and returns status and body.
func (e *env) userInfo(accessToken string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil && resp.StatusCode == http.StatusOK {
		e.t.Fatalf("userinfo body %q: %v", raw, err)
	}
	if body == nil {
		body = map[string]any{"www-authenticate": resp.Header.Get("WWW-Authenticate")}
	}
	return resp.StatusCode, body
}

func (e *env) discovery() map[string]any {
	e.t.Helper()
	resp, err := e.http.Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var md map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		e.t.Fatal(err)
	}
	return md
}

func claimsSupported(md map[string]any) []string {
	var out []string
	list, _ := md["claims_supported"].([]any)
	for _, c := range list {
		out = append(out, fmt.Sprint(c))
	}
	return out
}

// TestSessionClaimsSource: claims captured at login (the claims member of
// the subject authentication) are served at UserInfo for the session's
// lifetime when consented, and are gone once the session is closed through
// the session store API; discovery advertises them.
func TestSessionClaimsSource(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Claims.Sources = []config.ClaimsSource{{Type: "users"}, {Type: "session", SupportedClaims: []string{"login_ip"}}}
		// Keep the access token alive past logout, to see what UserInfo
		// then serves.
		c.Logout.RevokeTokens = "none"
	})
	if cs := claimsSupported(e.discovery()); !slices.Contains(cs, "login_ip") || !slices.Contains(cs, "email") {
		t.Errorf("claims_supported = %v, want login_ip and email among them", cs)
	}
	r := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("claims", `{"userinfo":{"login_ip":null,"email":null}}`))
	code, subSID := r.loginWithSessionClaims(authURL, "alice", map[string]any{"login_ip": "192.0.2.7", "not_supported": "x"})
	tok, err := r.conf.Exchange(r.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	status, info := e.userInfo(tok.AccessToken)
	if status != http.StatusOK || info["login_ip"] != "192.0.2.7" || info["email"] != "alice@example.com" {
		t.Fatalf("userinfo = %d %v, want login_ip from the session and email from the users file", status, info)
	}
	if _, ok := info["not_supported"]; ok {
		t.Errorf("userinfo has a session claim the source does not support: %v", info)
	}

	// Logout through the session store API: the session's claims go with it.
	if status, raw := e.sessions(http.MethodDelete, "", subSID, "", ""); status != http.StatusOK {
		t.Fatalf("delete session: %d %s", status, raw)
	}
	status, info = e.userInfo(tok.AccessToken)
	if status != http.StatusOK || info["email"] != "alice@example.com" {
		t.Fatalf("userinfo after logout = %d %v, want 200 with email", status, info)
	}
	if _, ok := info["login_ip"]; ok {
		t.Errorf("userinfo after logout still has login_ip: %v", info)
	}
}

// hangingHook is a claims web hook that never answers before the caller
// gives up.
func hangingHook(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv
}

// TestFailingClaimsSource: a claims source that hangs (a real web hook) or
// whose database is unknown (a SQL source pointed at a closed port) under
// on_error: omit leaves its claims out and the rest of the response
// intact; under on_error: fail the request fails with
// temporarily_unavailable (503), at the token endpoint when the claim is
// for the ID token and at UserInfo otherwise.
func TestFailingClaimsSource(t *testing.T) {
	hook := hangingHook(t)
	sources := map[string]config.ClaimsSource{
		"hanging webhook": {Type: "webhook", URL: hook.URL, Token: "t", Timeout: 300 * time.Millisecond, SupportedClaims: []string{"employee_id"}},
		"stopped database": {Type: "sql", Driver: "postgres", DSN: "postgres://nobody@127.0.0.1:1/hr?sslmode=disable",
			Query: "SELECT emp FROM people WHERE uid = $1", Claims: map[string]string{"employee_id": "emp"}, Timeout: 300 * time.Millisecond},
	}
	for name, src := range sources {
		for _, policy := range []string{"omit", "fail"} {
			t.Run(name+"/"+policy, func(t *testing.T) {
				src.OnError = policy
				e := newEnv(t, func(c *config.Config) { c.Claims.Sources = []config.ClaimsSource{{Type: "users"}, src} })
				var r *rp
				flow := func(claimsParam string) (*oauth2.Token, error) {
					// A client of its own per flow: the first flow's
					// long-lived consent must not shape the second.
					r = e.newRP(nil)
					// One attempt only: the code is spent by the first.
					r.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
					verifier := oauth2.GenerateVerifier()
					authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("claims", claimsParam))
					params, _ := r.loginViaAPI(authURL, "alice", "")
					return r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
				}

				// The claim for the ID token: the token endpoint.
				tok, err := flow(`{"id_token":{"employee_id":null,"email":null}}`)
				if policy == "omit" {
					if err != nil {
						t.Fatalf("exchange under omit: %v", err)
					}
					idt, err := r.verifier.Verify(r.ctx(), tok.Extra("id_token").(string))
					if err != nil {
						t.Fatal(err)
					}
					var c map[string]any
					idt.Claims(&c)
					if c["email"] != "alice@example.com" || c["employee_id"] != nil {
						t.Errorf("id token claims = %v, want email and no employee_id", c)
					}
				} else {
					var re *oauth2.RetrieveError
					if !asRetrieveError(err, &re) || re.ErrorCode != "temporarily_unavailable" || re.Response.StatusCode != http.StatusServiceUnavailable {
						t.Errorf("exchange under fail: %v, want temporarily_unavailable (503)", err)
					}
				}

				// The claim for UserInfo.
				tok, err = flow(`{"userinfo":{"employee_id":null,"email":null}}`)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				status, info := e.userInfo(tok.AccessToken)
				if policy == "omit" {
					if status != http.StatusOK || info["email"] != "alice@example.com" || info["employee_id"] != nil {
						t.Errorf("userinfo under omit = %d %v, want email and no employee_id", status, info)
					}
				} else if status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(info), "temporarily_unavailable") {
					t.Errorf("userinfo under fail = %d %v, want 503 temporarily_unavailable", status, info)
				}
			})
		}
	}
}

func asRetrieveError(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	*re = r
	return ok
}

// TestClaimOwnershipConflict: two enabled sources advertising the same
// claim stop the server at start, naming both.
func TestClaimOwnershipConflict(t *testing.T) {
	c := config.Default()
	c.DataDir = t.TempDir()
	c.Claims.Sources = []config.ClaimsSource{
		{Type: "users"},
		{Type: "sql", Driver: "mysql", DSN: "claims@tcp(127.0.0.1:1)/hr", Query: "SELECT mail FROM people WHERE uid = ?",
			Claims: map[string]string{"email": "mail"}},
		{Type: "session", SupportedClaims: []string{"login_ip", "email"}},
	}
	_, err := server.New(t.Context(), c, server.Options{})
	if err == nil {
		t.Fatal("server started with email owned by two sources")
	}
	for _, want := range []string{`"email"`, "claims.sources[1] (sql)", "claims.sources[2] (session)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error %q does not name %s", err, want)
		}
	}
}
