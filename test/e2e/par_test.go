package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestPushedAuthorizationRequest: RFC 9126 through the HTTP endpoint: the
// client pushes its request, the login UI passes the request_uri, and the
// request_uri works once.
func TestPushedAuthorizationRequest(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	push := url.Values{
		"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirectURI},
		"scope": {"openid email"}, "state": {"par-state"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	status, body, hdr := e.postForm("/par", push, r.clientID, r.clientSecret)
	if status != http.StatusCreated || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("PAR: %d %v (Cache-Control %q)", status, body, hdr.Get("Cache-Control"))
	}
	requestURI, _ := body["request_uri"].(string)
	if !strings.HasPrefix(requestURI, "urn:ietf:params:oauth:request_uri:") || body["expires_in"] == nil {
		t.Fatalf("PAR response = %v", body)
	}

	authURL := e.issuer + "/login?" + url.Values{"client_id": {r.clientID}, "request_uri": {requestURI}}.Encode()
	params, _ := r.loginViaAPI(authURL, "alice", "")
	if params.Get("state") != "par-state" || params.Get("code") == "" {
		t.Fatalf("final response for the pushed request = %v", params)
	}
	if _, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}

	// The request_uri is single use.
	status, msg := e.startQuery(url.Values{"client_id": {r.clientID}, "request_uri": {requestURI}})
	if status != 200 || (msg["type"] != "error" && redirectParams(t, msg).Get("error") == "") {
		t.Errorf("second use of the request_uri: %d %v, want an error", status, msg)
	}

	// Pushing needs client authentication.
	status, body, _ = e.postForm("/par", push, r.clientID, "wrong-secret")
	wantOAuthError(t, status, body, 401, "invalid_client")
	// A request_uri inside a pushed request is refused.
	bad := url.Values{}
	for k, v := range push {
		bad[k] = v
	}
	bad.Set("request_uri", requestURI)
	status, body, _ = e.postForm("/par", bad, r.clientID, r.clientSecret)
	wantOAuthError(t, status, body, 400, "invalid_request")
}

// TestPARRequiredByClient: a client registered with
// require_pushed_authorization_requests cannot send a plain request.
func TestPARRequiredByClient(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(map[string]any{"require_pushed_authorization_requests": true})
	status, msg := e.startQuery(r.baseQuery())
	if status != 200 {
		t.Fatalf("%d %v", status, msg)
	}
	if p := redirectParams(t, msg); p.Get("error") != "invalid_request" || p.Get("state") != "st" {
		t.Errorf("plain request from a PAR-only client: %v, want invalid_request redirected with state", p)
	}
}

// TestFormPostAndIdentifierTokens: response_mode=form_post gives the UI a
// form to post, and a consent asking for IDENTIFIER access tokens gives an
// opaque token that UserInfo accepts.
func TestFormPostAndIdentifierTokens(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	q := r.baseQuery()
	q.Set("response_mode", "form_post")
	q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
	status, msg := e.startQuery(q)
	if status != 200 || msg["type"] != "auth" {
		t.Fatalf("start: %d %v", status, msg)
	}
	sid := msg["sid"].(string)
	e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
	_, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{
		"scope": []string{"*"}, "claims": []string{"*"},
		"access_token": map[string]any{"encoding": "IDENTIFIER", "lifetime": 120},
	})
	if msg["mode"] != "form_post" {
		t.Fatalf("mode = %v, want form_post: %v", msg["mode"], msg)
	}
	params := msg["parameters"].(map[string]any)
	if params["uri"] != r.redirectURI {
		t.Errorf("form target = %v, want the bare redirect URI", params["uri"])
	}
	form := redirectParams(t, msg)
	if form.Get("code") == "" || form.Get("state") != "st" || form.Get("iss") != e.issuer {
		t.Fatalf("form = %v", form)
	}
	tok, err := r.conf.Exchange(r.ctx(), form.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Errorf("access token %q looks like a JWT, want an identifier", tok.AccessToken)
	}
	if tok.Expiry.IsZero() {
		t.Error("no expires_in")
	}
	info, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != "alice" {
		t.Errorf("userinfo with an identifier token: %v %v", info, err)
	}
}
