package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
)

// directAuthzRaw posts a raw body to the direct authorisation API with a
// bearer token ("" for none) and returns the status and the raw answer.
func (e *env) directAuthzRaw(bearer, ctype string, body []byte) (int, []byte, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/direct-authz/rest/v2", bytes.NewReader(body))
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, resp.Header
}

// directAuthz posts body as JSON with the API token.
func (e *env) directAuthz(body any) (int, map[string]any) {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	status, raw, hdr := e.directAuthzRaw(e.apiToken, "application/json", b)
	if status == http.StatusOK && hdr.Get("Cache-Control") != "no-store" {
		e.t.Errorf("direct authorisation Cache-Control = %q, want no-store", hdr.Get("Cache-Control"))
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("direct authorisation: status %d, body not a JSON object: %q", status, raw)
	}
	return status, out
}

// tokenOf turns a direct authorisation answer into an x/oauth2 token.
func tokenOf(t *testing.T, body map[string]any) *oauth2.Token {
	t.Helper()
	at, _ := body["access_token"].(string)
	if at == "" || body["token_type"] != "Bearer" {
		t.Fatalf("not a token response: %v", body)
	}
	tok := &oauth2.Token{AccessToken: at, TokenType: "Bearer", Expiry: time.Now().Add(time.Duration(seconds(t, body, "expires_in")) * time.Second)}
	tok.RefreshToken, _ = body["refresh_token"].(string)
	return tok.WithExtra(body)
}

func (r *rp) userInfo(tok *oauth2.Token) (map[string]any, error) {
	info, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, err
	}
	var ui map[string]any
	return ui, info.Claims(&ui)
}

// TestDirectAuthz: tokens from the direct authorisation API work with a
// real relying-party stack (go-oidc verifies the ID token, x/oauth2
// refreshes at /token, UserInfo answers), with and without a subject
// session, and a created session is one the authorisation session API then
// uses for single sign-on.
func TestDirectAuthz(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.opt(t))
			r := e.newRP(nil)

			t.Run("subject without session", func(t *testing.T) {
				status, body := e.directAuthz(map[string]any{
					"client_id": r.clientID, "sub": "alice",
					"scope":         []string{"openid", "email", "offline_access"},
					"claims":        []string{"email", "email_verified"},
					"preset_claims": map[string]any{"userinfo": map[string]any{"partner": "acme"}},
					"audience":      []string{"https://api.example.com"},
				})
				if status != http.StatusOK {
					t.Fatalf("direct authorisation: %d %v", status, body)
				}
				if body["sub_sid"] != nil {
					t.Errorf("sub_sid %v without a subject session", body["sub_sid"])
				}
				if body["scope"] != "openid email offline_access" {
					t.Errorf("scope %v", body["scope"])
				}
				tok := tokenOf(t, body)
				idToken, err := r.verifier.Verify(r.ctx(), body["id_token"].(string))
				if err != nil {
					t.Fatalf("go-oidc rejected the ID token: %v", err)
				}
				if idToken.Subject != "alice" {
					t.Errorf("ID token sub %q", idToken.Subject)
				}
				if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
					t.Errorf("at_hash: %v", err)
				}
				ui, err := r.userInfo(tok)
				if err != nil {
					t.Fatalf("userinfo: %v", err)
				}
				if ui["sub"] != "alice" || ui["email"] != "alice@example.com" || ui["partner"] != "acme" {
					t.Errorf("userinfo = %v", ui)
				}
				if tok.RefreshToken == "" {
					t.Fatal("no refresh token for offline_access")
				}
				old := *tok
				old.Expiry = time.Now().Add(-time.Minute)
				refreshed, err := r.conf.TokenSource(r.ctx(), &old).Token()
				if err != nil {
					t.Fatalf("refresh: %v", err)
				}
				if refreshed.AccessToken == tok.AccessToken {
					t.Error("refresh returned the same access token")
				}
				if _, err := r.userInfo(refreshed); err != nil {
					t.Errorf("userinfo with the refreshed token: %v", err)
				}
			})

			var subSID, sessionSID string
			t.Run("sub_session creates a session", func(t *testing.T) {
				status, body := e.directAuthz(map[string]any{
					"client_id":   r.clientID,
					"sub_session": map[string]any{"sub": "bob", "acr": "2", "amr": []string{"fed"}},
					"scope":       []string{"openid", "email", "profile", "offline_access"},
					"claims":      []string{"*"},
					"long_lived":  true,
				})
				if status != http.StatusOK {
					t.Fatalf("direct authorisation: %d %v", status, body)
				}
				subSID, _ = body["sub_sid"].(string)
				if subSID == "" {
					t.Fatalf("no sub_sid: %v", body)
				}
				idToken, err := r.verifier.Verify(r.ctx(), body["id_token"].(string))
				if err != nil {
					t.Fatalf("go-oidc rejected the ID token: %v", err)
				}
				var c struct {
					ACR      string   `json:"acr"`
					AMR      []string `json:"amr"`
					SID      string   `json:"sid"`
					AuthTime int64    `json:"auth_time"`
				}
				idToken.Claims(&c)
				if idToken.Subject != "bob" || c.ACR != "2" || !slices.Equal(c.AMR, []string{"fed"}) || c.SID == "" || c.AuthTime == 0 {
					t.Errorf("ID token sub %q claims %+v", idToken.Subject, c)
				}
				sessionSID = c.SID
				if _, err := r.userInfo(tokenOf(t, body)); err != nil {
					t.Errorf("userinfo: %v", err)
				}

				// A login with that session skips authentication.
				status, msg := e.authzSession(http.MethodPost, "", map[string]any{
					"query":   queryOf(t, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
					"sub_sid": subSID,
				})
				if status != http.StatusOK || (msg["type"] != "consent" && msg["type"] != "response") {
					t.Fatalf("login with the direct session: %d %v, want no auth prompt", status, msg)
				}
				if msg["type"] == "response" {
					params := redirectParams(t, msg)
					if params.Get("code") == "" {
						t.Errorf("SSO response without a code: %v", params)
					}
				}
			})

			t.Run("sub_sid binds to the session", func(t *testing.T) {
				if subSID == "" {
					t.Skip("no session from the previous step")
				}
				other := e.newRP(nil)
				status, body := e.directAuthz(map[string]any{
					"client_id": other.clientID, "sub_sid": subSID, "scope": []string{"openid"},
					"access_token": map[string]any{"encoding": "IDENTIFIER", "lifetime": 60},
				})
				if status != http.StatusOK {
					t.Fatalf("direct authorisation: %d %v", status, body)
				}
				if body["sub_sid"] != subSID {
					t.Errorf("sub_sid %v, want the bound %s", body["sub_sid"], subSID)
				}
				if seconds(t, body, "expires_in") != 60 || strings.Count(body["access_token"].(string), ".") == 2 {
					t.Errorf("access_token settings not honoured: %v", body)
				}
				idToken, err := other.verifier.Verify(other.ctx(), body["id_token"].(string))
				if err != nil {
					t.Fatalf("go-oidc rejected the ID token: %v", err)
				}
				var c struct {
					SID string `json:"sid"`
				}
				idToken.Claims(&c)
				if idToken.Subject != "bob" || c.SID != sessionSID {
					t.Errorf("ID token sub %q sid %q, want bob and the session's %q", idToken.Subject, c.SID, sessionSID)
				}
				ui, err := other.userInfo(tokenOf(t, body))
				if err != nil || ui["sub"] != "bob" {
					t.Errorf("userinfo with the identifier token: %v %v", ui, err)
				}

				status, body = e.directAuthz(map[string]any{"client_id": other.clientID, "sub_sid": subSID, "sub": "mallory", "scope": []string{"openid"}})
				wantOAuthError(t, status, body, 400, "invalid_request")
			})

			t.Run("token settings", func(t *testing.T) {
				status, body := e.directAuthz(map[string]any{
					"client_id": r.clientID, "sub": "alice", "scope": []string{"openid", "email"},
					"claims": []string{"email"}, "claims_transport": "ID_TOKEN",
					"refresh_token": map[string]any{"issue": true, "lifetime": 120},
				})
				if status != http.StatusOK {
					t.Fatalf("direct authorisation: %d %v", status, body)
				}
				idToken, err := r.verifier.Verify(r.ctx(), body["id_token"].(string))
				if err != nil {
					t.Fatal(err)
				}
				var c map[string]any
				idToken.Claims(&c)
				if c["email"] != "alice@example.com" {
					t.Errorf("claims_transport ID_TOKEN: ID token claims %v", c)
				}
				if rt, at := seconds(t, body, "refresh_token_expires_in"), seconds(t, body, "expires_in"); rt > 120 || rt < 118 || at > rt {
					t.Errorf("refresh_token_expires_in %d expires_in %d, want about 120 and the access token within it", rt, at)
				}

				status, body = e.directAuthz(map[string]any{
					"client_id": r.clientID, "sub": "alice", "scope": []string{"openid"},
					"id_token": map[string]any{"issue": false}, "refresh_token": map[string]any{"issue": false},
				})
				if status != http.StatusOK || body["id_token"] != nil || body["refresh_token"] != nil {
					t.Errorf("id_token.issue and refresh_token.issue false: %d %v", status, body)
				}
			})
		})
	}
}

// TestDirectAuthzBadInput: every refusal of the direct authorisation API
// is a clear 4xx naming the problem, never a 5xx, and nothing is issued.
func TestDirectAuthzBadInput(t *testing.T) {
	otherToken := strings.Repeat("d", 40)
	sessionsOnly := strings.Repeat("s", 40)
	digest := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.opt(t), func(c *config.Config) {
				c.APITokens.DirectAuthz = []string{digest(otherToken)}
				c.APITokens.AuthzSessions = []string{digest(sessionsOnly)}
			})
			r := e.newRP(nil)
			good := fmt.Sprintf(`{"client_id":%q,"sub":"alice","scope":["openid"]}`, r.clientID)

			t.Run("tokens", func(t *testing.T) {
				s1, missing, _ := e.directAuthzRaw("", "application/json", []byte(good))
				s2, wrong, _ := e.directAuthzRaw("not-the-token", "application/json", []byte(good))
				s3, sessTok, _ := e.directAuthzRaw(sessionsOnly, "application/json", []byte(good))
				if s1 != 401 || s2 != 401 || s3 != 401 {
					t.Errorf("statuses %d %d %d, want 401 for a missing, a wrong and another API's token", s1, s2, s3)
				}
				if !bytes.Equal(missing, wrong) || !bytes.Equal(wrong, sessTok) {
					t.Errorf("the 401 bodies differ: %s / %s / %s", missing, wrong, sessTok)
				}
				if s, body, _ := e.directAuthzRaw(otherToken, "application/json", []byte(good)); s != 200 {
					t.Errorf("api_tokens.direct_authz token: %d %s", s, body)
				}
			})

			for _, tc := range []struct {
				name, ctype, body string
				status            int
				code, mention     string
			}{
				{"form body", "application/x-www-form-urlencoded", "client_id=x", 415, "invalid_request", "Content-Type"},
				{"malformed JSON", "application/json", `{"client_id":`, 400, "invalid_request", "JSON"},
				{"not an object", "application/json", `["client_id"]`, 400, "invalid_request", "JSON object"},
				{"trailing data", "application/json", good + `{}`, 400, "invalid_request", "trailing"},
				{"scope as a string", "application/json", `{"client_id":"c","sub":"a","scope":"openid"}`, 400, "invalid_request", "scope"},
				{"lifetime as a string", "application/json", `{"client_id":"c","sub":"a","access_token":{"lifetime":"60"}}`, 400, "invalid_request", "access_token.lifetime"},
				{"long_lived not a bool", "application/json", `{"client_id":"c","sub":"a","long_lived":"yes"}`, 400, "invalid_request", "long_lived"},
				{"sub_session not an object", "application/json", `{"client_id":"c","sub_session":"bob"}`, 400, "invalid_request", "sub_session"},
				{"unknown member", "application/json", `{"client_id":"c","sub":"a","prompt":"none"}`, 400, "invalid_request", "unknown member prompt"},
				{"unknown nested member", "application/json", `{"client_id":"c","sub":"a","refresh_token":{"reuse":true}}`, 400, "invalid_request", "refresh_token.reuse"},
				{"unknown session member", "application/json", `{"client_id":"c","sub_session":{"sub":"a","sid":"x"}}`, 400, "invalid_request", "sub_session.sid"},
				{"unknown preset transport", "application/json", `{"client_id":"c","sub":"a","preset_claims":{"access_token":{}}}`, 400, "invalid_request", "preset_claims.access_token"},
				{"encrypt not a bool", "application/json", `{"client_id":"c","sub":"a","access_token":{"encrypt":"yes"}}`, 400, "invalid_request", "access_token.encrypt"},
				{"encrypt with IDENTIFIER", "application/json", `{"client_id":"c","sub":"a","access_token":{"encrypt":true,"encoding":"IDENTIFIER"}}`, 400, "invalid_request", "access_token.encrypt"},
				{"pairwise without audience", "application/json", `{"client_id":"c","sub":"a","access_token":{"sub_type":"PAIRWISE"}}`, 400, "invalid_request", "access_token.sub_type"},
				{"bad sub_type", "application/json", `{"client_id":"c","sub":"a","access_token":{"sub_type":"SOMETIMES"}}`, 400, "invalid_request", "access_token.sub_type"},
				{"impersonation not a string", "application/json", `{"client_id":"c","sub":"a","id_token":{"impersonated_sub":5}}`, 400, "invalid_request", "id_token.impersonated_sub"},
				{"bad encoding", "application/json", `{"client_id":"c","sub":"a","access_token":{"encoding":"JWE"}}`, 400, "invalid_request", "access_token.encoding"},
				{"negative lifetime", "application/json", `{"client_id":"c","sub":"a","refresh_token":{"lifetime":-1}}`, 400, "invalid_request", "refresh_token.lifetime"},
				{"missing client_id", "application/json", `{"sub":"a","scope":["openid"]}`, 400, "invalid_request", "client_id"},
				{"no subject", "application/json", `{"client_id":"c","scope":["openid"]}`, 400, "invalid_request", "sub"},
				{"session and sid", "application/json", `{"client_id":"c","sub_session":{"sub":"a"},"sub_sid":"x"}`, 400, "invalid_request", "sub_sid"},
				{"session without sub", "application/json", `{"client_id":"c","sub_session":{"acr":"1"}}`, 400, "invalid_request", "sub_session"},
				{"two subjects", "application/json", `{"client_id":"c","sub":"a","sub_session":{"sub":"b"}}`, 400, "invalid_request", "sub"},
				{"star scope", "application/json", `{"client_id":"c","sub":"a","scope":["*"]}`, 400, "invalid_request", "scope"},
				{"illegal scope value", "application/json", `{"client_id":"c","sub":"a","scope":["a b"]}`, 400, "invalid_request", "scope"},
				{"bad claims_transport", "application/json", `{"client_id":"c","sub":"a","claims_transport":"SMS"}`, 400, "invalid_request", "claims_transport"},
				{"id token without openid", "application/json", `{"client_id":"c","sub":"a","scope":["email"],"id_token":{"issue":true}}`, 400, "invalid_request", "openid"},
				{"unknown client", "application/json", `{"client_id":"nobody","sub":"a","scope":["openid"]}`, 400, "invalid_client", "client"},
				{"unknown sub_sid", "application/json", fmt.Sprintf(`{"client_id":%q,"sub_sid":"forged.sid","scope":["openid"]}`, r.clientID), 400, "invalid_request", "sub_sid"},
				{"too large", "application/json", `{"client_id":"` + strings.Repeat("x", 60_000) + `"}`, 413, "invalid_request", "too large"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					status, raw, _ := e.directAuthzRaw(e.apiToken, tc.ctype, []byte(tc.body))
					var body map[string]any
					if err := json.Unmarshal(raw, &body); err != nil {
						t.Fatalf("status %d, body not JSON: %q", status, raw)
					}
					if status != tc.status || body["error"] != tc.code {
						t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.code)
					}
					if d, _ := body["error_description"].(string); !strings.Contains(d, tc.mention) {
						t.Errorf("error_description %q does not mention %q", d, tc.mention)
					}
				})
			}

			t.Run("wrong method", func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, e.issuer+"/direct-authz/rest/v2", nil)
				req.Header.Set("Authorization", "Bearer "+e.apiToken)
				resp, err := e.http.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" {
					t.Errorf("GET: %d Allow %q, want 405 POST", resp.StatusCode, resp.Header.Get("Allow"))
				}
			})
		})
	}
}

// TestDirectAuthzParallel: concurrent direct authorisations for one
// subject and client, each creating a session and a long-lived
// authorisation, all succeed with distinct working tokens.
func TestDirectAuthzParallel(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newEnv(t, b.opt(t))
			r := e.newRP(nil)
			const n = 12
			var wg sync.WaitGroup
			results := make([]map[string]any, n)
			statuses := make([]int, n)
			for i := range n {
				wg.Go(func() {
					b, _ := json.Marshal(map[string]any{
						"client_id": r.clientID, "sub_session": map[string]any{"sub": "carol"},
						"scope": []string{"openid", "email", "offline_access"}, "claims": []string{"email"}, "long_lived": true,
					})
					status, raw, _ := e.directAuthzRaw(e.apiToken, "application/json", b)
					statuses[i] = status
					json.Unmarshal(raw, &results[i])
				})
			}
			wg.Wait()
			seen := map[string]bool{}
			for i := range n {
				if statuses[i] != http.StatusOK {
					t.Fatalf("request %d: %d %v", i, statuses[i], results[i])
				}
				at := results[i]["access_token"].(string)
				sid := results[i]["sub_sid"].(string)
				if seen[at] || seen[sid] {
					t.Errorf("request %d: a token or session ID was handed out twice", i)
				}
				seen[at], seen[sid] = true, true
				ui, err := r.userInfo(tokenOf(t, results[i]))
				if err != nil || ui["sub"] != "carol" {
					t.Errorf("request %d: userinfo %v %v", i, ui, err)
				}
			}
			// Each refresh token works once more, independently.
			for i := range n {
				status, body := r.refresh(results[i]["refresh_token"].(string))
				if status != http.StatusOK {
					t.Errorf("refresh %d: %d %v", i, status, body)
				}
			}
		})
	}
}
