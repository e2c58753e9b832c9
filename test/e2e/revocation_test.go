package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
)

// tokensWith runs a login for sub with the given consent and redeems the
// code: the token response.
func (r *rp) tokensWith(sub string, consent map[string]any) map[string]any {
	t := r.e.t
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	status, msg := r.e.authzSession(http.MethodPost, "", map[string]any{
		"query": queryOf(t, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))})
	if status != http.StatusOK || msg["type"] != "auth" {
		t.Fatalf("start: %d %v", status, msg)
	}
	sid := msg["sid"].(string)
	if status, msg = r.e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": sub}); status != http.StatusOK || msg["type"] != "consent" {
		t.Fatalf("authenticate: %d %v", status, msg)
	}
	body := map[string]any{"scope": []string{"*"}, "claims": []string{"*"}, "refresh_token": map[string]any{"issue": true}}
	for k, v := range consent {
		body[k] = v
	}
	if status, msg = r.e.authzSession(http.MethodPut, "/"+sid, body); status != http.StatusOK {
		t.Fatalf("consent: %d %v", status, msg)
	}
	status, tok := r.redeem(redirectParams(t, msg).Get("code"), verifier)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	return tok
}

// introspect calls /token/introspect as the client (Basic) and decodes
// the JSON answer.
func (r *rp) introspect(tok string, extra url.Values) (int, map[string]any) {
	r.e.t.Helper()
	form := url.Values{"token": {tok}}
	for k, v := range extra {
		form[k] = v
	}
	status, body, _ := r.e.postForm("/token/introspect", form, r.clientID, r.clientSecret)
	return status, body
}

// introspectBearer calls /token/introspect with a bearer token.
func (e *env) introspectBearer(bearer, tok string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+bearer)
	return e.doJSON(req)
}

func (r *rp) revoke(tok, hint string) (int, map[string]any) {
	r.e.t.Helper()
	form := url.Values{"token": {tok}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	status, body, _ := r.e.postForm("/token/revoke", form, r.clientID, r.clientSecret)
	return status, body
}

// userInfoStatus calls UserInfo with the access token.
func (e *env) userInfoStatus(access string) int {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	status, _ := e.doJSON(req)
	return status
}

func (r *rp) refreshStatus(rt string) (int, map[string]any) {
	r.e.t.Helper()
	status, body, _ := r.e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, r.clientID, r.clientSecret)
	return status, body
}

func wantInactive(t *testing.T, what string, status int, body map[string]any) {
	t.Helper()
	if status != http.StatusOK || len(body) != 1 || body["active"] != false {
		t.Errorf("%s: %d %v, want 200 and exactly {\"active\":false}", what, status, body)
	}
}

// TestIntrospection: RFC 7662 for every token Keyward issues, on both
// store set-ups: who may see what, the members of an active token, and
// {"active":false} for everything else.
func TestIntrospection(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.opt(t))
			owner, other := e.newRP(nil), e.newRP(nil)
			rs := e.newRP(map[string]any{"introspection_allowed": true})
			tok := owner.tokensWith("alice", nil)
			at, rt := tok["access_token"].(string), tok["refresh_token"].(string)

			status, body := owner.introspect(at, nil)
			if status != http.StatusOK || body["active"] != true {
				t.Fatalf("owner introspects its access token: %d %v", status, body)
			}
			for k, want := range map[string]any{"client_id": owner.clientID, "sub": "alice", "iss": e.issuer, "token_type": "Bearer"} {
				if body[k] != want {
					t.Errorf("%s = %v, want %v", k, body[k], want)
				}
			}
			for _, k := range []string{"scope", "exp", "iat", "aud", "jti", "auth_time"} {
				if body[k] == nil {
					t.Errorf("active answer lacks %s: %v", k, body)
				}
			}
			if !strings.Contains(body["scope"].(string), "openid") {
				t.Errorf("scope %v", body["scope"])
			}

			// The refresh token, with and without a (wrong) hint.
			for _, hint := range []string{"", "refresh_token", "access_token"} {
				status, body = owner.introspect(rt, url.Values{"token_type_hint": {hint}})
				if status != http.StatusOK || body["active"] != true || body["client_id"] != owner.clientID || body["token_type"] != nil {
					t.Errorf("refresh token, hint %q: %d %v", hint, status, body)
				}
			}

			// Another client sees nothing; a resource server and a bearer
			// caller see the token.
			status, body = other.introspect(at, nil)
			wantInactive(t, "another client", status, body)
			status, body = other.introspect(rt, nil)
			wantInactive(t, "another client, refresh token", status, body)
			if status, body = rs.introspect(at, nil); status != http.StatusOK || body["active"] != true || body["client_id"] != owner.clientID {
				t.Errorf("introspection_allowed client: %d %v", status, body)
			}
			if status, body = e.introspectBearer(e.apiToken, at); status != http.StatusOK || body["active"] != true {
				t.Errorf("bearer caller: %d %v", status, body)
			}

			// Unknown, malformed and foreign tokens.
			foreign := strings.Join([]string{
				"eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9",
				"eyJpc3MiOiJodHRwczovL290aGVyLmV4YW1wbGUiLCJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0",
				"c2ln"}, ".")
			for name, v := range map[string]string{
				"unknown": "no-such-token", "malformed JWT": "a.b.c", "foreign JWT": foreign,
				"tampered": at[:len(at)-4] + "AAAA", "huge": strings.Repeat("x", 20000),
				"not UTF-8": "\xff\xfe\x00",
			} {
				status, body = owner.introspect(v, nil)
				wantInactive(t, name, status, body)
			}
		})
	}
}

// TestIntrospectionJWTResponse: RFC 9701 — with Accept
// application/token-introspection+jwt the answer is a JWT signed with the
// server's published keys.
func TestIntrospectionJWTResponse(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	at := r.tokensWith("alice", nil)["access_token"].(string)
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/token-introspection+jwt")
	req.SetBasicAuth(r.clientID, r.clientSecret)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/token-introspection+jwt" {
		t.Fatalf("%d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	ctx := oidc.ClientContext(context.Background(), e.http)
	payload, err := oidc.NewRemoteKeySet(ctx, e.issuer+"/jwks.json").VerifySignature(ctx, string(raw))
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var claims struct {
		Iss string         `json:"iss"`
		Aud string         `json:"aud"`
		TI  map[string]any `json:"token_introspection"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != e.issuer || claims.Aud != r.clientID || claims.TI["active"] != true || claims.TI["sub"] != "alice" {
		t.Errorf("claims %s", payload)
	}
	hdr, _, _ := strings.Cut(string(raw), ".")
	if h, _ := jsonB64(hdr); h["typ"] != "token-introspection+jwt" {
		t.Errorf("typ %v", h["typ"])
	}
}

// TestRevocationEndpoint: RFC 7009 on both store set-ups.
func TestRevocationEndpoint(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.opt(t))
			owner, other := e.newRP(nil), e.newRP(nil)

			t.Run("identifier access token: active, then inactive", func(t *testing.T) {
				tok := owner.tokensWith("alice", map[string]any{"access_token": map[string]any{"encoding": "IDENTIFIER"}})
				at := tok["access_token"].(string)
				if strings.Count(at, ".") == 2 {
					t.Fatalf("not an identifier token: %s", at)
				}
				if status, body := owner.introspect(at, nil); status != 200 || body["active"] != true || body["jti"] != nil {
					t.Fatalf("before: %d %v", status, body)
				}
				if status, body := owner.revoke(at, "access_token"); status != 200 || body != nil {
					t.Fatalf("revoke: %d %v", status, body)
				}
				status, body := owner.introspect(at, nil)
				wantInactive(t, "after revocation", status, body)
				if s := e.userInfoStatus(at); s != 401 {
					t.Errorf("userinfo after revocation: %d", s)
				}
				// The grant lives on: the refresh token still works.
				if status, body := owner.refreshStatus(tok["refresh_token"].(string)); status != 200 {
					t.Errorf("refresh after revoking the access token: %d %v", status, body)
				}
			})

			t.Run("self-contained access token", func(t *testing.T) {
				tok := owner.tokensWith("alice", nil)
				at := tok["access_token"].(string)
				if s := e.userInfoStatus(at); s != 200 {
					t.Fatalf("userinfo before: %d", s)
				}
				// A wrong hint is not trusted.
				if status, body := owner.revoke(at, "refresh_token"); status != 200 {
					t.Fatalf("revoke: %d %v", status, body)
				}
				if s := e.userInfoStatus(at); s != 401 {
					t.Errorf("userinfo after revocation: %d, want 401", s)
				}
				status, body := owner.introspect(at, nil)
				wantInactive(t, "after revocation", status, body)
			})

			t.Run("refresh token ends its grant", func(t *testing.T) {
				tok := owner.tokensWith("bob", nil)
				at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
				if status, body := owner.revoke(rt, ""); status != 200 {
					t.Fatalf("revoke: %d %v", status, body)
				}
				status, body := owner.refreshStatus(rt)
				wantOAuthError(t, status, body, 400, "invalid_grant")
				if s := e.userInfoStatus(at); s != 401 {
					t.Errorf("userinfo with the grant's access token: %d, want 401", s)
				}
				status, body = owner.introspect(at, nil)
				wantInactive(t, "access token of the revoked grant", status, body)
				// Revoking again, or an unknown token, is still 200.
				if status, body := owner.revoke(rt, ""); status != 200 {
					t.Errorf("second revocation: %d %v", status, body)
				}
				if status, body := owner.revoke("never-issued", ""); status != 200 {
					t.Errorf("unknown token: %d %v", status, body)
				}
			})

			t.Run("another client's token is refused and stays valid", func(t *testing.T) {
				tok := owner.tokensWith("carol", nil)
				at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
				for _, v := range []string{at, rt} {
					status, body := other.revoke(v, "")
					wantOAuthError(t, status, body, 400, "unauthorized_client")
				}
				if s := e.userInfoStatus(at); s != 200 {
					t.Errorf("userinfo after another client's attempt: %d, want 200", s)
				}
				if status, body := owner.refreshStatus(rt); status != 200 {
					t.Errorf("refresh after another client's attempt: %d %v", status, body)
				}
			})

			t.Run("parallel revocations of one grant", func(t *testing.T) {
				tok := owner.tokensWith("dave", nil)
				rt := tok["refresh_token"].(string)
				const n = 16
				statuses := make([]int, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						form := url.Values{"token": {rt}}
						req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token/revoke", strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.SetBasicAuth(owner.clientID, owner.clientSecret)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							return
						}
						resp.Body.Close()
						statuses[i] = resp.StatusCode
					})
				}
				wg.Wait()
				for i, s := range statuses {
					if s != 200 {
						t.Errorf("revocation %d: %d, want 200", i, s)
					}
				}
				status, body := owner.refreshStatus(rt)
				wantOAuthError(t, status, body, 400, "invalid_grant")
				if s := e.userInfoStatus(tok["access_token"].(string)); s != 401 {
					t.Errorf("userinfo: %d, want 401", s)
				}
			})
		})
	}
}

// TestRevocationAndIntrospectionBadInput: RFC 7009 §2.1–2.2 and RFC 7662
// §2.1–2.3 negative cases — never a 5xx.
func TestRevocationAndIntrospectionBadInput(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	at := r.tokensWith("alice", nil)["access_token"].(string)
	for _, path := range []string{"/token/revoke", "/token/introspect"} {
		t.Run(path, func(t *testing.T) {
			status, body, _ := e.postForm(path, url.Values{"token": {at}}, "", "")
			wantOAuthError(t, status, body, 401, "invalid_client")
			status, body, _ = e.postForm(path, url.Values{"token": {at}}, r.clientID, "wrong-secret")
			wantOAuthError(t, status, body, 401, "invalid_client")
			status, body, _ = e.postForm(path, url.Values{}, r.clientID, r.clientSecret)
			wantOAuthError(t, status, body, 400, "invalid_request")
			status, body, _ = e.postForm(path, url.Values{"token": {at, at}}, r.clientID, r.clientSecret)
			wantOAuthError(t, status, body, 400, "invalid_request")
			req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(`{"token":"x"}`))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(r.clientID, r.clientSecret)
			if status, body := e.doJSON(req); status != 400 || body["error"] != "invalid_request" {
				t.Errorf("JSON body: %d %v", status, body)
			}
		})
	}
	// A wrong bearer token at introspection: 401 invalid_token.
	if status, body := e.introspectBearer("wrong-token", at); status != 401 || body["error"] != "invalid_token" {
		t.Errorf("wrong bearer: %d %v", status, body)
	}
	// The token survived all of that.
	if s := e.userInfoStatus(at); s != 200 {
		t.Errorf("userinfo: %d", s)
	}
}

// TestOpenRegistrationCannotGrantIntrospection: introspection_allowed is
// the operator's to give.
func TestOpenRegistrationCannotGrantIntrospection(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Registration.Open = true })
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/clients",
		strings.NewReader(`{"redirect_uris":["https://rs.example.com/cb"],"introspection_allowed":true}`))
	req.Header.Set("Content-Type", "application/json")
	if status, body := e.doJSON(req); status != 400 || body["error"] != "invalid_client_metadata" {
		t.Errorf("open registration with introspection_allowed: %d %v", status, body)
	}
}

// TestDiscoveryAdvertisesIntrospectionAndRevocation: the endpoints and
// their authentication methods are in discovery and they answer.
func TestDiscoveryAdvertisesIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	_, doc := e.doJSON(req)
	if doc["introspection_endpoint"] != e.issuer+"/token/introspect" || doc["revocation_endpoint"] != e.issuer+"/token/revoke" {
		t.Errorf("endpoints: %v %v", doc["introspection_endpoint"], doc["revocation_endpoint"])
	}
	for _, k := range []string{"introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
		if list, _ := doc[k].([]any); len(list) == 0 {
			t.Errorf("%s: %v", k, doc[k])
		}
	}
}

// jsonB64 decodes a base64url JSON object (a JWS header).
func jsonB64(s string) (map[string]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}
