package token

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/simple"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/store"
)

const (
	gtCC   = oauth.GrantTypeClientCredentials
	gtPW   = oauth.GrantTypePassword
	gtJWT  = oauth.GrantTypeJWTBearer
	gtSAML = oauth.GrantTypeSAML2Bearer
)

// withGrants registers clients for the handler grants and installs the
// built-in handlers (and a test SAML verifier).
func (e *env) withGrants(saml assertion.Verifier) *env {
	e.t.Helper()
	hash, err := users.HashPassword("alice-password")
	if err != nil {
		e.t.Fatal(err)
	}
	dir, err := users.New([]users.User{{Sub: "alice", Username: "alice", Password: hash}})
	if err != nil {
		e.t.Fatal(err)
	}
	pw, err := users.NewPasswordHandler(dir, users.PasswordOptions{Now: func() time.Time { return e.now }, MaxFailures: 3})
	if err != nil {
		e.t.Fatal(err)
	}
	all := []string{gtCC, gtPW, gtJWT, gtSAML, oauth.GrantTypeRefreshToken}
	jwks := e.st.Clients
	own, err := jwks.Get(context.Background(), "pkjwt")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []*store.Client{
		{ID: "svc", SecretHash: secret.HashBytes(basicSecret), Metadata: store.ClientMetadata{
			GrantTypes: all, Scope: "read write openid", JWKS: own.Metadata.JWKS}},
		{ID: "svc-public", Metadata: store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodNone,
			GrantTypes: all, Scope: "read write openid"}},
	} {
		if err := e.st.Clients.Create(context.Background(), c); err != nil {
			e.t.Fatal(err)
		}
	}
	jv := &jose.JWTBearerVerifier{
		Keys: jose.NewClientKeys(nil, func() time.Time { return e.now }), Audiences: []string{issuer + "/token", issuer},
	}
	e.svc.Handlers = []Grant{
		ClientCredentialsGrant(e.svc, simple.ClientCredentials{}),
		PasswordGrant(e.svc, pw),
		AssertionGrant(e.svc, gtJWT, jv, simple.JWTBearer{}.HandleJWTBearer, 0),
	}
	if saml != nil {
		e.svc.Handlers = append(e.svc.Handlers, AssertionGrant(e.svc, gtSAML, saml, simple.SAML2Bearer{}.HandleSAML2Bearer, 0))
	}
	return e
}

func (e *env) token(c Credentials) (*Response, error) {
	e.t.Helper()
	return e.svc.Token(e.t.Context(), c)
}

func TestClientCredentialsStateless(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	resp, err := e.token(basic("svc", basicSecret, form("grant_type", gtCC, "scope", "read admin")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Scope != "read" || resp.RefreshToken != "" || resp.IDToken != "" || resp.ExpiresIn != 600 {
		t.Errorf("response %+v", resp)
	}
	claims, h := e.payload(resp.AccessToken)
	if h.Typ != TypeAccessTokenJWT || claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["scope"] != "read" || claims["gid"] != nil {
		t.Errorf("access token %v %+v", claims, h)
	}
	// Nothing stored: the hot path writes no grant and no token.
	if gs, _ := e.st.Grants.List(t.Context(), store.GrantFilter{ClientID: "svc"}, e.now); len(gs) != 0 {
		t.Errorf("%d grants stored", len(gs))
	}
	// No registered scope requested: all of it.
	resp, err = e.token(basic("svc", basicSecret, form("grant_type", gtCC)))
	if err != nil || resp.Scope != "read write openid" {
		t.Fatalf("%+v %v", resp, err)
	}

	in, err := e.svc.Introspect(t.Context(), IntrospectionCaller{}, resp.AccessToken, "")
	if err != nil || in["active"] != true || in["client_id"] != "svc" || in["sub"] != "svc" {
		t.Fatalf("introspection %v %v", in, err)
	}
	_, err = e.svc.UserInfo(t.Context(), resp.AccessToken)
	wantOAuthError(t, err, oauth.ErrCodeInsufficientScope, 403)

	// Revocable through the journal: by token, and by client.
	if err := e.svc.RevokeToken(t.Context(), &store.Client{ID: "svc"}, resp.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(t.Context(), IntrospectionCaller{}, resp.AccessToken, ""); in["active"] != false {
		t.Errorf("revoked token still active: %v", in)
	}
	e.now = e.now.Add(time.Second)
	other, err := e.token(basic("svc", basicSecret, form("grant_type", gtCC)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Revoke(t.Context(), RevocationRequest{ClientID: "svc"}); err != nil {
		t.Fatal(err)
	}
	if in, _ := e.svc.Introspect(t.Context(), IntrospectionCaller{}, other.AccessToken, ""); in["active"] != false {
		t.Errorf("token of a revoked client still active: %v", in)
	}
}

func TestClientCredentialsStoredWhenNotStateless(t *testing.T) {
	for name, h := range map[string]simple.ClientCredentials{
		"identifier": {Tokens: simple.Tokens{AccessTokenEncoding: plugin.EncodingIdentifier}},
		"long-lived": {Tokens: simple.Tokens{AccessTokenLifetime: time.Hour}},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t).withJournal().withGrants(nil)
			e.svc.Handlers[0] = ClientCredentialsGrant(e.svc, h)
			resp, err := e.token(basic("svc", basicSecret, form("grant_type", gtCC, "scope", "write")))
			if err != nil {
				t.Fatal(err)
			}
			gs, _ := e.st.Grants.List(t.Context(), store.GrantFilter{ClientID: "svc"}, e.now)
			if len(gs) != 1 || gs[0].Subject != "svc" {
				t.Fatalf("grants %+v", gs)
			}
			in, err := e.svc.Introspect(t.Context(), IntrospectionCaller{}, resp.AccessToken, "")
			if err != nil || in["active"] != true || in["scope"] != "write" {
				t.Errorf("introspection %v %v", in, err)
			}
		})
	}
}

func TestHandlerGrantRefusals(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	tests := []struct {
		name   string
		creds  Credentials
		code   string
		status int
	}{
		{"cc nothing allowed", basic("svc", basicSecret, form("grant_type", gtCC, "scope", "admin")), oauth.ErrCodeInvalidScope, 400},
		{"cc malformed scope", basic("svc", basicSecret, form("grant_type", gtCC, "scope", "a\"b")), oauth.ErrCodeInvalidScope, 400},
		{"cc client not registered", basic("basic", basicSecret, form("grant_type", gtCC)), oauth.ErrCodeUnauthorizedClient, 400},
		{"cc public client", formCreds(form("grant_type", gtCC, "client_id", "svc-public")), oauth.ErrCodeUnauthorizedClient, 400},
		{"cc wrong secret", basic("svc", "nope", form("grant_type", gtCC)), oauth.ErrCodeInvalidClient, 401},
		{"password wrong", basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "x")), oauth.ErrCodeInvalidGrant, 400},
		{"password unknown user", basic("svc", basicSecret, form("grant_type", gtPW, "username", "bob", "password", "x")), oauth.ErrCodeInvalidGrant, 400},
		{"password missing", basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice")), oauth.ErrCodeInvalidRequest, 400},
		{"password huge", basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", strings.Repeat("p", 5000))), oauth.ErrCodeInvalidGrant, 400},
		{"password not registered", basic("basic", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "alice-password")), oauth.ErrCodeUnauthorizedClient, 400},
		{"jwt missing assertion", basic("svc", basicSecret, form("grant_type", gtJWT)), oauth.ErrCodeInvalidRequest, 400},
		{"jwt garbage", basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", "a.b.c")), oauth.ErrCodeInvalidGrant, 400},
		{"jwt oversized", basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", strings.Repeat("a", 45_000))), oauth.ErrCodeInvalidRequest, 400},
		{"saml off", basic("svc", basicSecret, form("grant_type", gtSAML, "assertion", "x")), oauth.ErrCodeUnsupportedGrantType, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.token(tc.creds)
			wantOAuthError(t, err, tc.code, tc.status)
		})
	}
}

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	resp, err := e.token(basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "alice-password", "scope", "openid read")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.RefreshToken == "" || resp.IDToken == "" || resp.Scope != "openid read" {
		t.Fatalf("response %+v", resp)
	}
	idt, _ := e.payload(resp.IDToken)
	if idt["sub"] != "alice" || idt["aud"].([]any)[0] != "svc" || idt["auth_time"] == nil {
		t.Errorf("id token %v", idt)
	}
	// The refresh token works.
	again, err := e.token(basic("svc", basicSecret, form("grant_type", oauth.GrantTypeRefreshToken, "refresh_token", resp.RefreshToken)))
	if err != nil || again.AccessToken == "" {
		t.Fatalf("refresh: %+v %v", again, err)
	}
	// A public client may use it and gets a rotating refresh token.
	pub, err := e.token(formCreds(form("grant_type", gtPW, "client_id", "svc-public", "username", "alice", "password", "alice-password")))
	if err != nil || pub.RefreshToken == "" {
		t.Fatalf("public client: %+v %v", pub, err)
	}
	gs, _ := e.st.Grants.List(t.Context(), store.GrantFilter{ClientID: "svc-public"}, e.now)
	if len(gs) != 1 || !gs[0].Tokens.RotateRefreshToken {
		t.Errorf("public client grant %+v", gs)
	}
}

// TestPasswordThrottleParallel: parallel guesses for one username never
// exceed the limit, and the right password is then refused too until the
// window passes.
func TestPasswordThrottleParallel(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := e.svc.Token(context.Background(), basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "guess")))
			if oauth.AsError(err) == nil || oauth.AsError(err).Code != oauth.ErrCodeInvalidGrant {
				t.Errorf("guess: %v", err)
			}
		})
	}
	wg.Wait()
	_, err := e.token(basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "alice-password")))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, 400)
	e.now = e.now.Add(users.DefaultFailureWindow)
	if _, err := e.token(basic("svc", basicSecret, form("grant_type", gtPW, "username", "alice", "password", "alice-password"))); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

func (e *env) selfAssertion(override map[string]any) string {
	o := map[string]any{"aud": issuer + "/token", "exp": e.now.Add(10 * time.Minute).Unix()}
	for k, v := range override {
		o[k] = v
	}
	return e.assertion(gojose.ES256, e.clientKey, o, "svc")
}

func TestJWTBearerGrant(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	a := e.selfAssertion(nil)
	resp, err := e.token(basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", a, "scope", "write")))
	if err != nil {
		t.Fatal(err)
	}
	claims, _ := e.payload(resp.AccessToken)
	if claims["sub"] != "svc" || resp.Scope != "write" || resp.RefreshToken != "" {
		t.Errorf("token %v %+v", claims, resp)
	}
	_, err = e.token(basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", a, "scope", "write")))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, 400)

	for name, o := range map[string]map[string]any{
		"expired":       {"exp": e.now.Add(-5 * time.Minute).Unix()},
		"too far ahead": {"exp": e.now.Add(2 * time.Hour).Unix()},
		"wrong aud":     {"aud": "https://other.example.com/token"},
		"no jti":        {"jti": nil},
		"not yet valid": {"nbf": e.now.Add(time.Hour).Unix()},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.token(basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", e.selfAssertion(o))))
			wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, 400)
		})
	}
	// Nothing allowed is invalid_scope, after the assertion checked out.
	_, err = e.token(basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", e.selfAssertion(nil), "scope", "admin")))
	wantOAuthError(t, err, oauth.ErrCodeInvalidScope, 400)
}

// TestJWTBearerNotAlsoClientAssertion: a self-issued grant assertion
// cannot double as the client's authentication assertion.
func TestJWTBearerNotAlsoClientAssertion(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	if _, err := e.st.Clients.Update(t.Context(), "pkjwt", func(c *store.Client) error {
		c.Metadata.GrantTypes = append(c.Metadata.GrantTypes, gtJWT)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a := e.assertion(gojose.ES256, e.clientKey, nil, "pkjwt")
	_, err := e.token(formCreds(form("grant_type", gtJWT, "assertion", a,
		"client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a)))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, 400)
	// A fresh one as the grant works.
	_, err = e.token(formCreds(form("grant_type", gtJWT, "assertion", e.assertion(gojose.ES256, e.clientKey, nil, "pkjwt"),
		"client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", e.assertion(gojose.ES256, e.clientKey, nil, "pkjwt"))))
	if err != nil {
		t.Fatal(err)
	}
}

// TestJWTBearerReplayParallel: one assertion presented in parallel yields
// exactly one token.
func TestJWTBearerReplayParallel(t *testing.T) {
	e := newEnv(t).withJournal().withGrants(nil)
	a := e.selfAssertion(nil)
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, err := e.svc.Token(context.Background(), basic("svc", basicSecret, form("grant_type", gtJWT, "assertion", a)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, oauth.InvalidGrant("")):
				refused.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 15 {
		t.Errorf("ok = %d, refused = %d; want 1 and 15", ok.Load(), refused.Load())
	}
}

// samlVerifier stands in for internal/saml2bearer: it accepts assertions
// written "issuer|subject|id".
type samlVerifier struct{}

func (v samlVerifier) Verify(_ context.Context, raw string, c *store.Client, now time.Time) (*assertion.Verified, error) {
	parts := strings.Split(raw, "|")
	if len(parts) != 3 {
		return nil, oauth.InvalidGrant("invalid assertion")
	}
	return &assertion.Verified{Issuer: parts[0], Subject: parts[1], ID: parts[2], ExpiresAt: now.Add(5 * time.Minute),
		SubjectFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", Claims: map[string]any{"role": []string{"x"}}}, nil
}

func TestSAML2BearerReplayPerIssuer(t *testing.T) {
	e := newEnv(t).withJournal()
	e.withGrants(samlVerifier{})
	get := func(a string) error {
		_, err := e.token(basic("svc", basicSecret, form("grant_type", gtSAML, "assertion", a, "scope", "read")))
		return err
	}
	if err := get("https://idp-a|alice|_id1"); err != nil {
		t.Fatal(err)
	}
	// The same ID from another issuer is another assertion.
	if err := get("https://idp-b|bob|_id1"); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, get("https://idp-a|alice|_id1"), oauth.ErrCodeInvalidGrant, 400)
	wantOAuthError(t, get("bad"), oauth.ErrCodeInvalidGrant, 400)
	gs, _ := e.st.Grants.List(t.Context(), store.GrantFilter{Subject: "bob"}, e.now)
	if len(gs) != 1 || gs[0].ClientID != "svc" {
		t.Errorf("grants of bob: %+v", gs)
	}
}

// failingHandler answers with err.
type failingHandler struct{ err error }

func (h failingHandler) HandleClientCredentials(context.Context, plugin.GrantRequest) (*plugin.Authorization, error) {
	return nil, h.err
}

func TestHandlerFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		code   string
		status int
	}{
		"unavailable":   {oauth.TemporarilyUnavailable("down"), oauth.ErrCodeTemporarilyUnavailable, 503},
		"access denied": {oauth.AccessDenied("no"), oauth.ErrCodeAccessDenied, 403},
		"plain error":   {errors.New("boom"), oauth.ErrCodeServerError, 500},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t).withJournal().withGrants(nil)
			e.svc.Handlers[0] = ClientCredentialsGrant(e.svc, failingHandler{tc.err})
			_, err := e.token(basic("svc", basicSecret, form("grant_type", gtCC)))
			if oe := oauth.AsError(err); oe == nil || oe.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
}
