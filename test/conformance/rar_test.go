package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/config"
)

// Rich authorisation requests (RFC 9396) and resource indicators
// (RFC 8707) end to end: pushed, shown to the login UI, granted in part,
// narrowed at the token endpoint, and read back from the signed access
// token and introspection.

const (
	rarAPI   = "https://api.example.com"
	rarFiles = "https://files.example.com"
	rarPay   = `{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"currency":"EUR","amount":"12.00"}}`
	rarRead  = `{"type":"account_information","actions":["read"]}`
)

func rarServer(c *config.Config) {
	c.Authz.AuthorizationDetailsTypes = []string{"payment_initiation", "account_information"}
	c.Authz.Resources = []string{rarAPI, rarFiles}
}

// pushBasic posts a pushed request authenticated with client_secret_basic.
func (c *client) pushBasic(form url.Values) *response {
	c.e.t.Helper()
	return c.e.postForm(c.e.issuer+"/par", form, func(req *http.Request) {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	})
}

// verifiedClaims checks the JWT's signature against jwks_uri and returns
// its claims.
func verifiedClaims(t *testing.T, e *env, token string) map[string]any {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(e.get(e.issuer+"/jwks.json", "").raw, &set); err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("no JWKS key %q", jws.Signatures[0].Header.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("access token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func detailTypes(v any) []string {
	var out []string
	for _, d := range asSlice(v) {
		m, _ := d.(map[string]any)
		s, _ := m["type"].(string)
		out = append(out, s)
	}
	return out
}

func TestRichAuthorizationRequestsAndResourceIndicators(t *testing.T) {
	e := newEnvWith(t, rarServer)
	c := e.newClient("client_secret_basic", nil)
	q := c.authQuery()
	q.Set("authorization_details", "["+rarPay+","+rarRead+"]")
	q["resource"] = []string{rarAPI, rarFiles}
	r := c.pushBasic(q)
	if r.status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", r.status, r.raw)
	}

	// The login UI's view.
	api := e.issuer + "/authz-sessions/rest/v3"
	m := e.postJSON(http.MethodPost, api, e.apiToken, map[string]any{
		"query": url.Values{"client_id": {c.id}, "request_uri": {r.str("request_uri")}}.Encode()})
	sid := m.str("sid")
	m = e.postJSON(http.MethodPut, api+"/"+sid, e.apiToken, map[string]any{"sub": "alice"})
	if m.str("type") != "consent" {
		t.Fatalf("after authentication: %s", m.raw)
	}
	if got := detailTypes(m.body["authorization_details"]); !slices.Equal(got, []string{"payment_initiation", "account_information"}) {
		t.Errorf("consent prompt authorization_details types %v", got)
	}
	if got := asSlice(m.body["resource"]); len(got) != 2 {
		t.Errorf("consent prompt resource %v", got)
	}
	so := e.get(api+"/"+sid, e.apiToken)
	if ar, _ := so.body["auth_req"].(map[string]any); len(asSlice(ar["authorization_details"])) != 2 || len(asSlice(ar["resource"])) != 2 {
		t.Errorf("GET session auth_req = %v", so.body["auth_req"])
	}
	// A consent cannot grant what was not requested.
	bad := e.postJSON(http.MethodPut, api+"/"+sid, e.apiToken, map[string]any{
		"scope": []string{"*"}, "authorization_details": []any{json.RawMessage(`{"type":"account_information","actions":["write"]}`)}})
	wantError(t, bad, http.StatusBadRequest, "invalid_request")
	// Grant the payment only.
	m = e.postJSON(http.MethodPut, api+"/"+sid, e.apiToken, map[string]any{
		"scope": []string{"*"}, "authorization_details": []any{json.RawMessage(rarPay)},
		"refresh_token": map[string]any{"issue": true}})
	_, params := responseParams(t, m.body)
	code := params.Get("code")
	if code == "" {
		t.Fatalf("consent: %s", m.raw)
	}

	// The token endpoint narrows the audience to one granted resource.
	tok := c.redeem(code, url.Values{"resource": {rarFiles}})
	if tok.status != http.StatusOK {
		t.Fatalf("token: %d %s", tok.status, tok.raw)
	}
	if got := detailTypes(tok.body["authorization_details"]); !slices.Equal(got, []string{"payment_initiation"}) {
		t.Errorf("token response authorization_details %v", got)
	}
	at := verifiedClaims(t, e, tok.str("access_token"))
	if aud := asSlice(at["aud"]); len(aud) != 1 || aud[0] != rarFiles {
		t.Errorf("access token aud %v, want [%s]", at["aud"], rarFiles)
	}
	if got := detailTypes(at["authorization_details"]); !slices.Equal(got, []string{"payment_initiation"}) {
		t.Errorf("access token authorization_details %v", got)
	}
	in := e.postForm(e.issuer+"/token/introspect", url.Values{"token": {tok.str("access_token")}}, func(req *http.Request) {
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	})
	if in.body["active"] != true || !slices.Equal(detailTypes(in.body["authorization_details"]), []string{"payment_initiation"}) {
		t.Errorf("introspection %s", in.raw)
	}

	// A refresh may ask for the other granted resource, not for a third.
	rt := tok.str("refresh_token")
	if rt == "" {
		t.Fatalf("no refresh token: %s", tok.raw)
	}
	r2 := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": {"https://other.example.com"}})
	wantError(t, r2, http.StatusBadRequest, "invalid_target")
	r2 = c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": {rarAPI}})
	if aud := asSlice(verifiedClaims(t, e, r2.str("access_token"))["aud"]); len(aud) != 1 || aud[0] != rarAPI {
		t.Errorf("refreshed aud %v", aud)
	}
}

func TestRichAuthorizationRequestRefusals(t *testing.T) {
	e := newEnvWith(t, rarServer)
	c := e.newClient("client_secret_basic", nil)
	for _, tc := range []struct {
		name  string
		param string
		value string
		code  string
	}{
		{"authorization_details type not allowed", "authorization_details", `[{"type":"crypto_transfer"}]`, "invalid_authorization_details"},
		{"authorization_details not an array", "authorization_details", `{"type":"payment_initiation"}`, "invalid_request"},
		{"resource not allowed", "resource", "https://other.example.com", "invalid_target"},
		{"resource with a fragment", "resource", rarAPI + "#x", "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := c.authQuery()
			q.Set(tc.param, tc.value)
			wantError(t, c.pushBasic(q), http.StatusBadRequest, tc.code)
			// At the authorisation endpoint the error goes to the client.
			ar := e.authorize(q.Encode(), "", alice)
			if ar.params.Get("error") != tc.code || ar.params.Get("state") != q.Get("state") || ar.params.Get("iss") != e.issuer {
				t.Errorf("front channel: %v", ar.params)
			}
		})
	}
}
