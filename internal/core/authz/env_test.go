package authz

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/internal/testkeys"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

// The real key manager satisfies the verifier interface we declare.
var _ IDTokenVerifier = (*jose.KeyManager)(nil)

const (
	issuer   = "https://op.example.com"
	rpCB     = "https://rp.example.com/cb"
	verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	// challenge is S256(verifier), RFC 7636 Appendix B.
	challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	t     testing.TB
	clock *testclock.Clock
	dur   store.Durable
	eph   store.Ephemeral
	svc   *Service
	keys  *jose.KeyManager
}

func testClients() []*store.Client {
	web := store.ClientMetadata{
		RedirectURIs: []string{rpCB}, GrantTypes: []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken},
		ClientName: "Web App", TokenEndpointAuthMethod: oauth.AuthMethodClientSecretBasic,
	}
	with := func(id string, f func(m *store.ClientMetadata)) *store.Client {
		m := web
		if f != nil {
			f(&m)
		}
		return &store.Client{ID: id, Metadata: m}
	}
	return []*store.Client{
		with("web", nil),
		with("multi", func(m *store.ClientMetadata) { m.RedirectURIs = []string{rpCB, "https://rp.example.com/other"} }),
		with("pub", func(m *store.ClientMetadata) {
			m.RedirectURIs = []string{"http://127.0.0.1/cb", "com.example.app:/cb"}
			m.TokenEndpointAuthMethod = oauth.AuthMethodNone
			m.ApplicationType = oauth.ApplicationTypeNative
		}),
		with("par", func(m *store.ClientMetadata) { m.RequirePushedAuthorizationRequests = true }),
		with("scoped", func(m *store.ClientMetadata) { m.Scope = "email profile" }),
		with("forced", func(m *store.ClientMetadata) { m.CodeChallengeMethod = oauth.PKCEMethodS256 }),
		with("hybrid", func(m *store.ClientMetadata) { m.ResponseTypes = []string{"code id_token"} }),
		with("nort", func(m *store.ClientMetadata) { m.GrantTypes = []string{oauth.GrantTypeAuthorizationCode} }),
		with("acr", func(m *store.ClientMetadata) { m.DefaultACRValues = []string{"gold"} }),
		with("implicit", func(m *store.ClientMetadata) {
			m.ResponseTypes = []string{"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}
			m.GrantTypes = []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeImplicit, oauth.GrantTypeRefreshToken}
		}),
	}
}

func newEnv(t testing.TB, cfg Config) *env {
	t.Helper()
	km := testkeys.Manager(t)
	keys, err := secret.DeriveKeys(bytes.Repeat([]byte{3}, secret.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := memstore.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: testclock.New(t0), dur: ms.Durable(), eph: ms.Ephemeral(), keys: km}
	for _, c := range testClients() {
		if err := e.dur.Clients.Create(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Issuer == "" {
		cfg.Issuer = issuer
	}
	e.svc = &Service{
		Config:   cfg,
		Clients:  e.dur.Clients,
		Sessions: e.eph.AuthzSessions,
		SubjectSessions: &session.Service{
			Store: e.eph.SubjectSessions, MACKey: keys.SessionMAC, Now: e.clock.Now,
		},
		Codes: e.eph.Codes, PAR: e.eph.PAR, Replay: e.eph.Replay, Authorizations: e.dur.Authorizations,
		IDTokens: km, Sealer: keys.Sealer, Now: e.clock.Now,
	}
	return e
}

// query builds an authorisation request for client "web" with PKCE, state
// and nonce; kv pairs override (an empty value deletes).
func query(kv ...string) string {
	v := url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {rpCB},
		"scope": {"openid email"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
		} else {
			v.Set(kv[i], kv[i+1])
		}
	}
	return v.Encode()
}

func (e *env) start(q, subSID string) *Message {
	e.t.Helper()
	m, err := e.svc.Start(context.Background(), StartRequest{Query: q, SubSID: subSID})
	if err != nil {
		e.t.Fatalf("Start(%q): %v", q, err)
	}
	return m
}

// submitJSON decodes body and submits it, as the HTTP layer does.
func submitJSON(ctx context.Context, svc *Service, sid, body string) (*Message, error) {
	sa, c, err := DecodeSubmission([]byte(body))
	if err != nil {
		return nil, err
	}
	if sa != nil {
		return svc.SubmitAuth(ctx, sid, sa)
	}
	return svc.SubmitConsent(ctx, sid, c)
}

func (e *env) submit(sid, body string) *Message {
	e.t.Helper()
	m, err := submitJSON(context.Background(), e.svc, sid, body)
	if err != nil {
		e.t.Fatalf("Submit(%s): %v", body, err)
	}
	return m
}

// login runs a full flow for alice and returns the final message.
func (e *env) login(q, auth, consent string) *Message {
	e.t.Helper()
	m := e.start(q, "")
	if m.Type != TypeAuth {
		e.t.Fatalf("Start: got %+v, want auth prompt", m)
	}
	m = e.submit(m.SID, auth)
	if m.Type != TypeConsent {
		e.t.Fatalf("auth: got %+v, want consent prompt", m)
	}
	return e.submit(m.SID, consent)
}

// params returns the response parameters of a final message and the URI
// they go to, whatever the mode.
func params(t testing.TB, m *Message) (base string, v url.Values) {
	t.Helper()
	if m.Type != TypeResponse || m.Parameters == nil {
		t.Fatalf("not a final response: %+v", m)
	}
	if m.Mode == oauth.ResponseModeFormPost {
		v = url.Values{}
		for k, s := range m.Parameters.Form {
			v.Set(k, s)
		}
		return m.Parameters.URI, v
	}
	u, err := url.Parse(m.Parameters.URI)
	if err != nil {
		t.Fatal(err)
	}
	raw := u.RawQuery
	if m.Mode == oauth.ResponseModeFragment {
		raw = u.Fragment
		u.Fragment = ""
	} else {
		u.RawQuery = ""
	}
	if v, err = url.ParseQuery(raw); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(u.String(), "#"), v
}

// consume redeems the code of a successful final message from the store.
func (e *env) consume(m *Message) *store.Code {
	e.t.Helper()
	_, v := params(e.t, m)
	c, err := e.eph.Codes.Consume(context.Background(), secret.Hash(v.Get("code")), e.clock.Now())
	if err != nil {
		e.t.Fatalf("consume code: %v", err)
	}
	return c
}

// idToken signs an ID token as the token endpoint would.
func (e *env) idToken(iss, sub string) string {
	e.t.Helper()
	tok, err := e.keys.Sign("RS256", "JWT", map[string]any{"iss": iss, "sub": sub, "aud": "web", "exp": t0.Add(-time.Hour).Unix()})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}
