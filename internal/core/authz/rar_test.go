package authz

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	apiRes     = "https://api.example.com"
	payment    = `{"type":"payment_initiation","actions":["initiate"],"instructedAmount":{"currency":"EUR","amount":"12.00"}}`
	accountsRD = `{"type":"account_information","actions":["read"]}`
)

func rarConfig() Config {
	return Config{
		AuthorizationDetailsTypes: []string{"payment_initiation", "account_information"},
		Resources:                 []string{apiRes},
	}
}

// errorCode is the error of a final message, redirected or not.
func errorCode(t *testing.T, m *Message) string {
	t.Helper()
	if m.Type == TypeError {
		return m.Error
	}
	_, v := params(t, m)
	return v.Get("error")
}

func (e *env) addClient(id string, f func(m *store.ClientMetadata)) *store.Client {
	e.t.Helper()
	c := testClients()[0]
	c.ID = id
	f(&c.Metadata)
	if err := e.dur.Clients.Create(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestAuthorizationDetailsAndResourceFlow(t *testing.T) {
	e := newEnv(t, rarConfig())
	q := query("authorization_details", "["+payment+","+accountsRD+"]", "resource", apiRes)
	m := e.start(q, "")
	m = e.submit(m.SID, authAlice)
	if m.Type != TypeConsent {
		t.Fatalf("got %+v, want consent", m)
	}
	if len(m.AuthorizationDetails) != 2 || len(m.Resource) != 1 || m.Resource[0] != apiRes {
		t.Fatalf("consent prompt: authorization_details %s, resource %v", m.AuthorizationDetails, m.Resource)
	}
	if !containsReason(m.Reasons, CheckAuthorizationDetails) {
		t.Errorf("reasons %v lack %s", m.Reasons, CheckAuthorizationDetails)
	}
	// The session API's auth_req carries them too.
	so, err := e.svc.Get(context.Background(), m.SID)
	if err != nil {
		t.Fatal(err)
	}
	if len(so.AuthReq.AuthorizationDetails) != 2 || len(so.AuthReq.Resource) != 1 {
		t.Fatalf("auth_req = %+v", so.AuthReq)
	}
	// Grant one of the two.
	m = e.submit(m.SID, `{"scope":["*"],"authorization_details":[`+accountsRD+`]}`)
	code := e.consume(m)
	g := code.Grant
	if len(g.AuthorizationDetails) != 1 || !json.Valid(g.AuthorizationDetails[0]) {
		t.Fatalf("granted authorization_details = %s", g.AuthorizationDetails)
	}
	var got map[string]any
	_ = json.Unmarshal(g.AuthorizationDetails[0], &got)
	if got["type"] != "account_information" {
		t.Errorf("granted %v, want account_information", got)
	}
	if len(g.Audience) != 1 || g.Audience[0] != apiRes || len(g.Resources) != 1 {
		t.Errorf("audience %v resources %v, want %s", g.Audience, g.Resources, apiRes)
	}
}

func containsReason(rs []string, r string) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func TestConsentGrantsAllDetailsByDefault(t *testing.T) {
	e := newEnv(t, rarConfig())
	m := e.login(query("authorization_details", "["+payment+"]"), authAlice, consentAll_)
	if g := e.consume(m).Grant; len(g.AuthorizationDetails) != 1 {
		t.Fatalf("granted %s, want the requested element", g.AuthorizationDetails)
	}
}

func TestConsentCannotWidenDetails(t *testing.T) {
	e := newEnv(t, rarConfig())
	m := e.start(query("authorization_details", "["+payment+"]"), "")
	m = e.submit(m.SID, authAlice)
	_, err := submitJSON(context.Background(), e.svc, m.SID, `{"scope":["*"],"authorization_details":[`+accountsRD+`]}`)
	if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
		t.Fatalf("widening consent: got %v, want invalid_request (400)", err)
	}
}

func TestAuthorizationDetailsAndResourceRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []string
		code string
	}{
		{"type not allowed", []string{"authorization_details", `[{"type":"crypto_transfer"}]`}, oauth.ErrCodeInvalidAuthorizationDetails},
		{"malformed details", []string{"authorization_details", `{"type":"payment_initiation"}`}, oauth.ErrCodeInvalidRequest},
		{"resource not allowed", []string{"resource", "https://other.example.com"}, oauth.ErrCodeInvalidTarget},
		{"relative resource", []string{"resource", "/api"}, oauth.ErrCodeInvalidTarget},
		{"resource with fragment", []string{"resource", apiRes + "#x"}, oauth.ErrCodeInvalidTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, rarConfig())
			if got := errorCode(t, e.start(query(tc.kv...), "")); got != tc.code {
				t.Fatalf("got %q, want %s", got, tc.code)
			}
			// The same at the PAR endpoint, answered directly.
			_, _, err := e.svc.Push(context.Background(), e.client("web"), pushParams(tc.kv...))
			if oe := oauth.AsError(err); oe == nil || oe.Code != tc.code || oe.Status != 400 {
				t.Fatalf("Push: got %v, want %s (400)", err, tc.code)
			}
		})
	}
}

func TestClientNarrowsTypesAndAddsResources(t *testing.T) {
	e := newEnv(t, rarConfig())
	e.addClient("bank", func(m *store.ClientMetadata) {
		m.AuthorizationDetailsTypes = []string{"account_information"}
		m.AllowedResources = []string{"https://bank.example.com/api"}
	})
	q := query("client_id", "bank", "authorization_details", "["+payment+"]")
	if got := errorCode(t, e.start(q, "")); got != oauth.ErrCodeInvalidAuthorizationDetails {
		t.Fatalf("unregistered type: got %q", got)
	}
	m := e.login(query("client_id", "bank", "resource", "https://bank.example.com/api"), authAlice, consentAll_)
	if g := e.consume(m).Grant; len(g.Audience) != 1 || g.Audience[0] != "https://bank.example.com/api" {
		t.Fatalf("audience %v", g.Audience)
	}
	// Repeated resource parameters are allowed (RFC 8707 §2).
	v, _ := url.ParseQuery(query("client_id", "bank"))
	v["resource"] = []string{apiRes, "https://bank.example.com/api"}
	m = e.login(v.Encode(), authAlice, consentAll_)
	if g := e.consume(m).Grant; len(g.Resources) != 2 {
		t.Fatalf("resources %v, want both", g.Resources)
	}
}

func TestFAPI2ProfileAtAuthorizationEndpoint(t *testing.T) {
	cfg := Config{Profile: authzpolicy.ProfileFAPI2, CodeLifetime: 90 * time.Second}
	e := newEnv(t, cfg)
	// Not pushed: refused (redirected, the redirect URI being verified).
	if got := errorCode(t, e.start(query(), "")); got != oauth.ErrCodeInvalidRequest {
		t.Fatalf("unpushed request: got %q, want invalid_request", got)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		code string
	}{
		{"no PKCE", []string{"code_challenge", "", "code_challenge_method", ""}, oauth.ErrCodeInvalidRequest},
		{"hybrid", []string{"client_id", "hybrid", "response_type", "code id_token"}, oauth.ErrCodeUnsupportedResponseType},
		{"no redirect_uri", []string{"redirect_uri", ""}, oauth.ErrCodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pushParams(tc.kv...)
			_, _, err := e.svc.Push(context.Background(), e.client(p.Get("client_id")), p)
			if oe := oauth.AsError(err); oe == nil || oe.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	uri, _, err := e.svc.Push(context.Background(), e.client("web"), pushParams())
	if err != nil {
		t.Fatal(err)
	}
	m := e.login(url.Values{"client_id": {"web"}, "request_uri": {uri}}.Encode(), authAlice, consentAll_)
	_, v := params(t, m)
	if v.Get("iss") != issuer {
		t.Errorf("iss = %q, want %q (RFC 9207)", v.Get("iss"), issuer)
	}
	c := e.consume(m)
	if got := c.ExpiresAt.Sub(c.CreatedAt); got != 60*time.Second {
		t.Errorf("code lifetime %v, want 60s under FAPI 2.0", got)
	}
}

func TestFAPI2ClientProfile(t *testing.T) {
	e := newEnv(t, Config{})
	e.addClient("fapi", func(m *store.ClientMetadata) { m.Profile = authzpolicy.ProfileFAPI2 })
	if got := errorCode(t, e.start(query("client_id", "fapi"), "")); got != oauth.ErrCodeInvalidRequest {
		t.Fatalf("unpushed request of a fapi2 client: got %q, want invalid_request", got)
	}
	// Other clients are unaffected.
	if m := e.start(query(), ""); m.Type != TypeAuth {
		t.Fatalf("ordinary client: got %+v", m)
	}
}
