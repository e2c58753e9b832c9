package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestBadInput: what a hostile or broken client sends gets an exact 4xx
// answer, never a 5xx, a stack trace or an echo (docs/api.md §23).
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)

	// Authorisation requests through the session API: a type "error"
	// message (HTTP 200), never a redirect carrying the bad input.
	manyParams := r.baseQuery().Encode()
	for i := range 10000 {
		manyParams += "&p=" + fmt.Sprint(i%10)
	}
	for _, tc := range []struct {
		name, query, want string
	}{
		{"NUL in state", with(r.baseQuery(), "state", "a\x00b"), "parameter state contains a control character"},
		{"NUL in nonce", with(r.baseQuery(), "nonce", "\x00"), "parameter nonce contains a control character"},
		{"non-UTF-8 in scope", with(r.baseQuery(), "scope", "openid \xff"), "invalid UTF-8"},
		{"40 KB parameter", with(r.baseQuery(), "login_hint", strings.Repeat("a", 40<<10)), "parameter login_hint longer than 4096 bytes"},
		{"state over 4096 bytes", with(r.baseQuery(), "state", strings.Repeat("s", 4097)), "parameter state longer than 4096 bytes"},
		{"10,000 parameters", manyParams, "too many parameters"},
	} {
		t.Run("session API/"+tc.name, func(t *testing.T) {
			// Encoded without HTML escaping, so that 10,000 "&" stay
			// within the API's body limit.
			var body bytes.Buffer
			enc := json.NewEncoder(&body)
			enc.SetEscapeHTML(false)
			enc.Encode(map[string]any{"query": tc.query})
			req := badReq(t, http.MethodPost, e.issuer+"/authz-sessions/rest/v3", "application/json", &body)
			req.Header.Set("Authorization", "Bearer "+e.apiToken)
			status, msg := e.doJSON(req)
			if status != http.StatusOK || msg["type"] != "error" || msg["error"] != "invalid_request" {
				t.Fatalf("%d %v, want 200 type error invalid_request", status, msg)
			}
			if d, _ := msg["error_description"].(string); !strings.Contains(d, tc.want) {
				t.Errorf("error_description %q, want %q", d, tc.want)
			}
			if _, ok := msg["parameters"]; ok {
				t.Errorf("the refusal carries a redirect: %v", msg)
			}
		})
	}

	// The same through the browser-facing login UI: a 400 page.
	for _, tc := range []struct{ name, query string }{
		{"NUL in state", with(r.baseQuery(), "state", "a\x00b")},
		{"100 KB parameter", with(r.baseQuery(), "login_hint", strings.Repeat("a", 100<<10))},
		{"10,000 parameters", manyParams},
	} {
		t.Run("login UI/"+tc.name, func(t *testing.T) {
			status, body := e.doStatus(badReq(t, http.MethodGet, e.issuer+"/login?"+tc.query, "", nil))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.200s", status, body)
			}
			if strings.Contains(body, "a\x00b") {
				t.Error("the page echoes the NUL-bearing state")
			}
		})
	}

	// PAR and /token: 400 invalid_request naming the problem.
	form := func(kv ...string) url.Values {
		v, _ := url.ParseQuery(r.baseQuery().Encode())
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tokenFlood := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}.Encode() + strings.Repeat("&p=1", 10000)
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"PAR NUL in state", "/par", form("state", "\x00").Encode(), "parameter state contains a control character"},
		{"PAR non-UTF-8", "/par", form("nonce", "\xc3\x28").Encode(), "invalid UTF-8"},
		{"PAR 40 KB parameter", "/par", form("login_hint", strings.Repeat("a", 40<<10)).Encode(), "longer than 4096 bytes"},
		{"PAR 10,000 parameters", "/par", form().Encode() + strings.Repeat("&p=1", 10000), "too many parameters"},
		{"token NUL in code", "/token", url.Values{"grant_type": {"authorization_code"}, "code": {"a\x00"}, "redirect_uri": {r.redirectURI}}.Encode(), "parameter code contains a control character"},
		{"token non-UTF-8", "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"\xff"}}.Encode(), "invalid UTF-8"},
		{"token 10,000 parameters", "/token", tokenFlood, "too many parameters"},
		{"token repeated parameter", "/token", "grant_type=refresh_token&refresh_token=a&refresh_token=b", "repeated parameter refresh_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := badReq(t, http.MethodPost, e.issuer+tc.path, "application/x-www-form-urlencoded", strings.NewReader(tc.body))
			req.SetBasicAuth(url.QueryEscape(r.clientID), url.QueryEscape(r.clientSecret))
			status, out := e.doJSON(req)
			if status != http.StatusBadRequest || out["error"] != "invalid_request" {
				t.Fatalf("%d %v, want 400 invalid_request", status, out)
			}
			if d, _ := out["error_description"].(string); !strings.Contains(d, tc.want) {
				t.Errorf("error_description %q, want %q", d, tc.want)
			}
		})
	}

	// JSON bodies of the integration APIs and registration.
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	deepArray := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"session API duplicate member", "/authz-sessions/rest/v3", `{"query":"client_id=x","query":"client_id=y"}`, `duplicate member "query" at /query`},
		{"session API deep nesting", "/authz-sessions/rest/v3", deep, "nested deeper than 32 levels"},
		{"session API deep array", "/authz-sessions/rest/v3", deepArray, "nested deeper than 32 levels"},
		{"registration duplicate member", "/clients", `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none","token_endpoint_auth_method":"client_secret_basic"}`, `duplicate member "token_endpoint_auth_method"`},
		{"registration nested duplicate", "/clients", `{"redirect_uris":["https://a.example/cb"],"jwks":{"keys":[],"keys":[]}}`, `duplicate member "keys" at /jwks/keys`},
		{"direct authz deep nesting", "/direct-authz/rest/v2", deep, "nested deeper than 32 levels"},
		{"registration number out of range", "/clients", `{"redirect_uris":["https://a.example/cb"],"default_max_age":1e400}`, "number out of range at /default_max_age"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := badReq(t, http.MethodPost, e.issuer+tc.path, "application/json", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+e.apiToken)
			status, out := e.doJSON(req)
			if status != http.StatusBadRequest || out["error"] != "invalid_request" {
				t.Fatalf("%d %v, want 400 invalid_request", status, out)
			}
			if d, _ := out["error_description"].(string); !strings.Contains(d, tc.want) {
				t.Errorf("error_description %q, want %q", d, tc.want)
			}
		})
	}
}

func with(q url.Values, kv ...string) string {
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q.Encode()
}

func badReq(t *testing.T, method, u, contentType string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}
