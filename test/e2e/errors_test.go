package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/server"
)

// startQuery starts an authorisation session with a raw query.
func (e *env) startQuery(q url.Values) (int, map[string]any) {
	e.t.Helper()
	return e.authzSession(http.MethodPost, "", map[string]any{"query": q.Encode()})
}

func (r *rp) baseQuery() url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {r.clientID},
		"redirect_uri":          {r.redirectURI},
		"scope":                 {"openid email"},
		"state":                 {"st"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(strings.Repeat("v", 43))},
		"code_challenge_method": {"S256"},
	}
}

// TestNonRedirectableErrors: problems with the client or the redirect URI
// are type "error" messages and never a redirect (OIDC Core §3.1.2.6).
func TestNonRedirectableErrors(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "no-such-client") }, "invalid_client"},
		{"missing client_id", func(q url.Values) { q.Del("client_id") }, "invalid_request"},
		{"unregistered redirect_uri", func(q url.Values) { q.Set("redirect_uri", r.redirectURI+"/callback/x1y2z3") }, "invalid_request"},
		{"redirect_uri with added query", func(q url.Values) { q.Set("redirect_uri", r.redirectURI+"?a=b") }, "invalid_request"},
		{"missing redirect_uri in an OpenID request", func(q url.Values) { q.Del("redirect_uri") }, "invalid_request"},
		// The redirect URI may be inside a request object (RFC 9101 §6), so
		// its failures come before it is trusted; unsigned ones are refused.
		{"unsigned request object", func(q url.Values) { q.Set("request", "eyJhbGciOiJub25lIn0.e30.") }, "invalid_request_object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := r.baseQuery()
			tt.mutate(q)
			status, msg := e.startQuery(q)
			if status != http.StatusOK || msg["type"] != "error" {
				t.Fatalf("status %d type %v, want 200 type error: %v", status, msg["type"], msg)
			}
			if msg["error"] != tt.code {
				t.Errorf("error = %v, want %s", msg["error"], tt.code)
			}
			if _, ok := msg["parameters"]; ok {
				t.Errorf("an error about the client or redirect URI carries a redirect: %v", msg)
			}
		})
	}
}

// TestRedirectedErrors: once client and redirect URI are verified, request
// errors go back to the client with state and iss.
func TestRedirectedErrors(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	tests := []struct {
		name   string
		mutate func(url.Values)
		code   string
	}{
		{"missing response_type", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"unsupported response_type", func(q url.Values) { q.Set("response_type", "code token banana") }, "unsupported_response_type"},
		{"prompt=none without a session", func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
		{"bad code_challenge_method", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"bad max_age", func(q url.Values) { q.Set("max_age", "-1") }, "invalid_request"},
		{"bad display", func(q url.Values) { q.Set("display", "hologram") }, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := r.baseQuery()
			tt.mutate(q)
			status, msg := e.startQuery(q)
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, msg)
			}
			params := redirectParams(t, msg)
			if params.Get("error") != tt.code || params.Get("state") != "st" || params.Get("iss") != e.issuer {
				t.Errorf("redirect parameters = %v, want error=%s with state and iss", params, tt.code)
			}
			if params.Get("code") != "" {
				t.Error("an error response carries a code")
			}
		})
	}
}

// codeFor runs a login for r and returns a fresh code and its verifier.
func (r *rp) codeFor(sub string) (code, verifier string) {
	verifier = oauth2.GenerateVerifier()
	params, _ := r.loginViaAPI(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), sub, "")
	return params.Get("code"), verifier
}

func (r *rp) redeem(code, verifier string) (int, map[string]any) {
	r.e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirectURI}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	status, body, hdr := r.e.postForm("/token", form, r.clientID, r.clientSecret)
	if hdr.Get("Cache-Control") != "no-store" {
		r.e.t.Errorf("token response Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
	}
	return status, body
}

func wantOAuthError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus || body["error"] != wantCode {
		t.Errorf("got %d %v, want %d %s", status, body, wantStatus, wantCode)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t)
	r, other := e.newRP(nil), e.newRP(nil)

	t.Run("bad PKCE verifier burns the code", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		status, body := r.redeem(code, strings.Repeat("x", 43))
		wantOAuthError(t, status, body, 400, "invalid_grant")
		status, body = r.redeem(code, verifier)
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("missing verifier", func(t *testing.T) {
		code, _ := r.codeFor("alice")
		status, body := r.redeem(code, "")
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("code reuse revokes the first redemption's tokens", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		status, first := r.redeem(code, verifier)
		if status != 200 {
			t.Fatalf("first redemption: %d %v", status, first)
		}
		status, body := r.redeem(code, verifier)
		wantOAuthError(t, status, body, 400, "invalid_grant")
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+first["access_token"].(string))
		status, body = e.doJSON(req)
		wantOAuthError(t, status, body, 401, "invalid_token")
		rs, rb, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}}, r.clientID, r.clientSecret)
		wantOAuthError(t, rs, rb, 400, "invalid_grant")
	})
	t.Run("code redeemed by another client", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirectURI}, "code_verifier": {verifier}}
		status, body, _ := e.postForm("/token", form, other.clientID, other.clientSecret)
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("wrong redirect_uri", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirectURI + "x"}, "code_verifier": {verifier}}
		status, body, _ := e.postForm("/token", form, r.clientID, r.clientSecret)
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirectURI}, "code_verifier": {verifier}}
		status, body, hdr := e.postForm("/token", form, r.clientID, r.clientSecret+"x")
		wantOAuthError(t, status, body, 401, "invalid_client")
		if hdr.Get("WWW-Authenticate") == "" {
			t.Error("401 without WWW-Authenticate")
		}
	})
	t.Run("unknown client", func(t *testing.T) {
		status, body, _ := e.postForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, "nobody", "secret")
		wantOAuthError(t, status, body, 401, "invalid_client")
	})
	t.Run("unsupported grant type", func(t *testing.T) {
		status, body, _ := e.postForm("/token", url.Values{"grant_type": {"urn:example:banana"}}, r.clientID, r.clientSecret)
		wantOAuthError(t, status, body, 400, "unsupported_grant_type")
	})
	t.Run("unknown code", func(t *testing.T) {
		status, body := r.redeem("not-a-code", strings.Repeat("v", 43))
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("refresh token of another client", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		_, tok := r.redeem(code, verifier)
		status, body, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, other.clientID, other.clientSecret)
		wantOAuthError(t, status, body, 400, "invalid_grant")
	})
	t.Run("concurrent redemptions: at most one wins, and the replays revoke it", func(t *testing.T) {
		code, verifier := r.codeFor("alice")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []map[string]any
		for range 8 {
			wg.Go(func() {
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirectURI}, "code_verifier": {verifier}}
				status, body, _ := e.postForm("/token", form, r.clientID, r.clientSecret)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case status == 200:
					won = append(won, body)
				case status != 400 || body["error"] != "invalid_grant":
					t.Errorf("concurrent redemption answered %d %v, want 200 or 400 invalid_grant", status, body)
				}
			})
		}
		wg.Wait()
		if len(won) > 1 {
			t.Fatalf("%d redemptions succeeded, want at most 1", len(won))
		}
		// Seven replays happened: whatever the winner got must be dead.
		for _, tok := range won {
			req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			status, body := e.doJSON(req)
			wantOAuthError(t, status, body, 401, "invalid_token")
		}
	})
}

func TestExpiredCode(t *testing.T) {
	c := testclock.New(time.Now())
	e := newEnvWithOptions(t, server.Options{Now: c.Now})
	r := e.newRP(nil)
	code, verifier := r.codeFor("alice")
	c.Advance(61 * time.Second)
	status, body := r.redeem(code, verifier)
	wantOAuthError(t, status, body, 400, "invalid_grant")
}

func TestAuthzSessionAPIErrors(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	call := func(method, path, token, ctype string, body []byte) (int, map[string]any) {
		req, _ := http.NewRequest(method, e.issuer+"/authz-sessions/rest/v3"+path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return e.doJSON(req)
	}
	startBody := []byte(`{"query":"` + r.baseQuery().Encode() + `"}`)

	status, body := call("POST", "", "", "application/json", startBody)
	wantOAuthError(t, status, body, 401, "invalid_token")
	status, body = call("POST", "", "wrong-token-wrong-token-wrong-token", "application/json", startBody)
	wantOAuthError(t, status, body, 401, "invalid_token")
	status, body = call("POST", "", e.apiToken, "application/json", []byte(`{"query": `))
	wantOAuthError(t, status, body, 400, "invalid_request")
	status, _ = call("GET", "/no-such-session", e.apiToken, "", nil)
	if status != 404 {
		t.Errorf("GET unknown sid: status %d, want 404", status)
	}
	status, _ = call("PUT", "/no-such-session", e.apiToken, "application/json", []byte(`{"sub":"alice"}`))
	if status != 404 {
		t.Errorf("PUT unknown sid: status %d, want 404", status)
	}

	status, msg := call("POST", "", e.apiToken, "application/json", startBody)
	if status != 200 || msg["type"] != "auth" {
		t.Fatalf("start: %d %v", status, msg)
	}
	sid := msg["sid"].(string)
	status, body = call("PUT", "/"+sid, e.apiToken, "application/json", []byte(`{"scope":["openid"]}`))
	wantOAuthError(t, status, body, 400, "invalid_request")
	status, body = call("PUT", "/"+sid, e.apiToken, "application/json", []byte(`{"sub":`))
	wantOAuthError(t, status, body, 400, "invalid_request")
	status, body = call("PUT", "/"+sid, e.apiToken, "application/json", []byte(`{"sub":""}`))
	wantOAuthError(t, status, body, 400, "invalid_request")
	status, body = call("DELETE", "/"+sid+"?error=bad%22code", e.apiToken, "", nil)
	wantOAuthError(t, status, body, 400, "invalid_request")

	// Cancelling answers with access_denied to the client, once.
	status, msg = call("DELETE", "/"+sid, e.apiToken, "", nil)
	if status != 200 {
		t.Fatalf("DELETE: %d %v", status, msg)
	}
	if p := redirectParams(t, msg); p.Get("error") != "access_denied" {
		t.Errorf("DELETE answered %v, want access_denied", p)
	}
	status, _ = call("PUT", "/"+sid, e.apiToken, "application/json", []byte(`{"sub":"alice"}`))
	if status != 400 && status != 404 {
		t.Errorf("PUT after the session ended: status %d, want 400 or 404", status)
	}
}

// newEnvWithOptions is newEnv with server options (a clock).
func newEnvWithOptions(t *testing.T, opts server.Options, cfgOpts ...envOption) *env {
	t.Helper()
	return newEnvFull(t, opts, cfgOpts...)
}
