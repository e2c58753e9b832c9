package e2e

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testlog"
	"github.com/keyward/keyward/server"
)

// TestNoSecretReachesTheLog runs the flows at debug level — login form with
// a wrong and a right password, consent, code exchange, UserInfo, refresh,
// introspection, revocation, PAR, client credentials, password grant, a
// client_secret_jwt assertion, registration and client configuration, API
// calls with good and bad tokens — and then looks for every raw secret the
// flows used or received in the captured log: none may be there
// (docs/operator-guide.md, "Logs"). It also checks the access-log and audit
// lines the operator guide promises.
func TestNoSecretReachesTheLog(t *testing.T) {
	var buf testlog.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnvFull(t, server.Options{Log: log}, func(c *config.Config) {
		c.Grants.Password.Handler = "users"
	})
	secrets := map[string]string{"api token": e.apiToken}
	add := func(name, v string) {
		t.Helper()
		if v == "" {
			t.Fatalf("flow produced no %s", name)
		}
		secrets[name] = v
	}

	// Registration: client secret and registration access token.
	r := e.newRP(nil)
	add("client secret", r.clientSecret)
	st, reg := e.registerClient(map[string]any{"grant_types": []string{"client_credentials", "password", "refresh_token"},
		"response_types": []string{}, "scope": "openid email"})
	if st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, reg)
	}
	svcID, svcSecret := reg["client_id"].(string), reg["client_secret"].(string)
	add("service client secret", svcSecret)
	add("registration access token", reg["registration_access_token"].(string))
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/clients/"+svcID, nil)
	req.Header.Set("Authorization", "Bearer "+secrets["registration access token"])
	if st, body := e.doJSON(req); st != http.StatusOK {
		t.Errorf("read client: %d %v", st, body)
	}

	// Login UI: a wrong password, then the right one, then consent.
	b := e.newBrowser()
	verifier := oauth2.GenerateVerifier()
	add("PKCE verifier", verifier)
	_, page := b.get(r.conf.AuthCodeURL("state-logs", oidc.Nonce("nonce-logs"), oauth2.S256ChallengeOption(verifier)))
	form := hiddenFields(page)
	add("authz session ID", form.Get("sid"))
	wrong := url.Values{"username": {"alice"}, "password": {"wrong-password-Zq81"}}
	add("wrong password", "wrong-password-Zq81")
	for k, v := range form {
		wrong[k] = v
	}
	_, page = b.submit("/login/authenticate", wrong)
	good := url.Values{"username": {"alice"}, "password": {"alice-password"}}
	add("password", "alice-password")
	for k, v := range hiddenFields(page) {
		good[k] = v
	}
	resp, _ := b.submit("/login/authenticate", good)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	_, page = b.follow(resp)
	consent := hiddenFields(page)
	consent.Set("action", "allow")
	resp, _ = b.submit("/login/consent", consent)
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("after consent: status %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			add("subject session ID", c.Value)
		}
	}
	add("authorisation code", loc.Query().Get("code"))
	tok, err := r.conf.Exchange(r.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	add("access token", tok.AccessToken)
	add("refresh token", tok.RefreshToken)
	add("ID token", tok.Extra("id_token").(string))

	// Subject session via the API (the authorisation session API flow).
	params, subSID := r.loginViaAPI(r.conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)), "bob", "")
	add("API-flow code", params.Get("code"))
	add("API-flow subject session ID", subSID)

	if _, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("userinfo: %v", err)
	}
	st, body, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
		r.clientID, r.clientSecret)
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, body)
	}
	add("refreshed access token", body["access_token"].(string))
	if rt, _ := body["refresh_token"].(string); rt != "" {
		add("rotated refresh token", rt)
	}
	e.postForm("/token/introspect", url.Values{"token": {tok.AccessToken}}, r.clientID, r.clientSecret)
	e.postForm("/token/introspect", url.Values{"token": {tok.RefreshToken}}, r.clientID, r.clientSecret)
	e.postForm("/token/revoke", url.Values{"token": {tok.RefreshToken}}, r.clientID, r.clientSecret)
	// A wrong client secret and a revoked token at UserInfo.
	add("wrong client secret", "not-the-secret-9Kd2jQ")
	e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
		r.clientID, "not-the-secret-9Kd2jQ")
	e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
		r.clientID, r.clientSecret)

	// PAR.
	st, body, _ = e.postForm("/par", url.Values{"response_type": {"code"}, "client_id": {r.clientID},
		"redirect_uri": {r.redirectURI}, "scope": {"openid"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}, r.clientID, r.clientSecret)
	if st != http.StatusCreated {
		t.Errorf("PAR: %d %v", st, body)
	}

	// Client credentials, password grant (wrong and right password).
	st, body, _ = e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, svcID, svcSecret)
	if st != http.StatusOK {
		t.Fatalf("client credentials: %d %v", st, body)
	}
	add("client credentials token", body["access_token"].(string))
	e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong-password-Zq81"}}, svcID, svcSecret)
	st, body, _ = e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"},
		"scope": {"openid email"}}, svcID, svcSecret)
	if st != http.StatusOK {
		t.Fatalf("password grant: %d %v", st, body)
	}
	add("password grant token", body["access_token"].(string))

	// A client_secret_jwt assertion (RFC 7523 §2.2), sent twice: the
	// replay is refused and logged.
	st, jreg := e.registerClient(map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{},
		"token_endpoint_auth_method": "client_secret_jwt"})
	if st != http.StatusCreated {
		t.Fatalf("register jwt client: %d %v", st, jreg)
	}
	jwtID, jwtSecret := jreg["client_id"].(string), jreg["client_secret"].(string)
	add("jwt client secret", jwtSecret)
	assertion := signJWT(t, []byte(jwtSecret), "", map[string]any{"iss": jwtID, "sub": jwtID, "aud": e.issuer + "/token",
		"jti": "jti-logs-1", "exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix()})
	add("client assertion", assertion)
	for range 2 {
		e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, "", "")
	}

	// The code again: a replay, refused (and the grant revoked).
	e.postForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {secrets["authorisation code"]},
		"redirect_uri": {r.redirectURI}, "code_verifier": {verifier}}, r.clientID, r.clientSecret)

	// Integration APIs with a wrong token, in the header and the query.
	add("wrong API token", "wrong-api-token-0123456789abcdef0123")
	for _, u := range []string{"/authz-sessions/rest/v3/" + secrets["authz session ID"], "/monitor/v1/ping?access_token=wrong-api-token-0123456789abcdef0123"} {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+u, nil)
		req.Header.Set("Authorization", "Bearer wrong-api-token-0123456789abcdef0123")
		e.doJSON(req)
	}
	req, _ = http.NewRequest(http.MethodDelete, e.issuer+"/clients/"+svcID, nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	e.doJSON(req)
	if err := e.srv.RotateKeys(t.Context()); err != nil {
		t.Fatal(err)
	}

	logged := buf.String()
	for name, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the log holds the raw %s", name)
		}
	}

	// Every line is JSON; every request has an access line with its route,
	// and the lines of one request share its request_id.
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace([]byte(logged)), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		lines = append(lines, m)
	}
	events := map[string]bool{}
	tokenLine := false
	for _, m := range lines {
		if m["msg"] == "audit" {
			events[m["event"].(string)] = true
		}
		if m["msg"] == "http request" && m["route"] == "POST /token" && m["client_id"] == svcID && m["request_id"] != nil {
			tokenLine = true
		}
	}
	if !tokenLine {
		t.Error("no access-log line for POST /token with client_id and request_id")
	}
	for _, ev := range []string{"login", "login_failed", "consent", "token_issued", "token_revoked", "client_registered",
		"client_deleted", "key_rotated", "api_auth_failed"} {
		if !events[ev] {
			t.Errorf("no audit line for %s", ev)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logged)
	}
}
