package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testdpop"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	resAPI   = "https://api.example.com"
	resFiles = "https://files.example.com"
	detPay   = `{"actions":["initiate"],"type":"payment_initiation"}`
	detRead  = `{"actions":["read"],"type":"account_information"}`
)

// withDetails grants two resources and two authorization_details
// elements (canonically encoded, as authz stores them).
func withDetails(g *store.Grant) {
	g.Resources = []string{resAPI, resFiles}
	g.Audience = g.Resources
	g.AuthorizationDetails = []json.RawMessage{json.RawMessage(detPay), json.RawMessage(detRead)}
}

func TestGrantedDetailsAndAudienceReachTheToken(t *testing.T) {
	e := newEnv(t)
	resp := e.redeem(codeOpts{grant: withDetails})
	if len(resp.AuthorizationDetails) != 2 {
		t.Fatalf("token response authorization_details = %s", resp.AuthorizationDetails)
	}
	p, _ := e.payload(resp.AccessToken)
	if aud, _ := p["aud"].([]any); len(aud) != 2 || aud[0] != resAPI {
		t.Errorf("aud = %v, want the granted resources", p["aud"])
	}
	if ad, _ := p["authorization_details"].([]any); len(ad) != 2 {
		t.Errorf("access token authorization_details = %v", p["authorization_details"])
	}
	in, err := e.svc.Introspect(t.Context(), IntrospectionCaller{}, resp.AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if ad, _ := in["authorization_details"].([]json.RawMessage); len(ad) != 2 {
		t.Errorf("introspection authorization_details = %v", in["authorization_details"])
	}
	// The grant in the authorisation store keeps them.
	if gs := e.grants(); len(gs) != 1 || len(gs[0].AuthorizationDetails) != 2 || len(gs[0].Resources) != 2 {
		t.Fatalf("stored grant = %+v", gs)
	}
}

func TestTokenRequestNarrows(t *testing.T) {
	e := newEnv(t)
	c := e.code(codeOpts{grant: withDetails})
	f := codeForm(c, "resource", resFiles, "authorization_details", "["+detRead+"]")
	resp, err := e.svc.Token(t.Context(), basic("basic", basicSecret, f))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.payload(resp.AccessToken)
	if aud, _ := p["aud"].([]any); len(aud) != 1 || aud[0] != resFiles {
		t.Errorf("aud = %v, want only %s", p["aud"], resFiles)
	}
	if ad, _ := p["authorization_details"].([]any); len(ad) != 1 {
		t.Errorf("authorization_details = %v, want one element", p["authorization_details"])
	}
	// The refresh token still stands for the whole grant: a refresh may
	// ask for the other resource.
	rf := form("grant_type", "refresh_token", "refresh_token", resp.RefreshToken, "resource", resAPI)
	r2, err := e.svc.Token(t.Context(), basic("basic", basicSecret, rf))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.payload(r2.AccessToken); p["aud"].([]any)[0] != resAPI {
		t.Errorf("refreshed aud = %v", p["aud"])
	}
}

func TestTokenRequestCannotWiden(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []string
		code string
	}{
		{"resource not granted", []string{"resource", "https://other.example.com"}, oauth.ErrCodeInvalidTarget},
		{"relative resource", []string{"resource", "/api"}, oauth.ErrCodeInvalidTarget},
		{"details not granted", []string{"authorization_details", `[{"type":"account_information","actions":["write"]}]`}, oauth.ErrCodeInvalidAuthorizationDetails},
		{"details of another type", []string{"authorization_details", `[{"type":"crypto"}]`}, oauth.ErrCodeInvalidAuthorizationDetails},
		{"malformed details", []string{"authorization_details", `{`}, oauth.ErrCodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.code(codeOpts{grant: withDetails})
			_, err := e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(c, tc.kv...)))
			wantOAuthError(t, err, tc.code, http.StatusBadRequest)
		})
	}
}

func TestResourceWithoutGrantedResources(t *testing.T) {
	e := newEnv(t)
	e.svc.Config.Resources = []string{resAPI}
	c := e.code(codeOpts{})
	resp, err := e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(c, "resource", resAPI)))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := e.payload(resp.AccessToken); p["aud"].([]any)[0] != resAPI {
		t.Errorf("aud = %v", p["aud"])
	}
	c = e.code(codeOpts{})
	_, err = e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(c, "resource", resFiles)))
	wantOAuthError(t, err, oauth.ErrCodeInvalidTarget, http.StatusBadRequest)
}

func TestIdentifierTokenCannotNarrowAudience(t *testing.T) {
	e := newEnv(t)
	spec := e.grantTemplate("basic").Tokens
	spec.AccessTokenEncoding = oauth.TokenEncodingIdentifier
	c := e.code(codeOpts{grant: withDetails, tokens: &spec})
	_, err := e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(c, "resource", resFiles)))
	wantOAuthError(t, err, oauth.ErrCodeInvalidTarget, http.StatusBadRequest)
}

// addFAPIClients registers FAPI 2.0 clients: "fapi-basic" with a client
// secret, "fapi" with private_key_jwt (the env's EC key and an RSA key).
func (e *env) addFAPIClients() *rsa.PrivateKey {
	e.t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		e.t.Fatal(err)
	}
	jwks, _ := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{
		{Key: e.clientKey.Public(), KeyID: "rp-1", Algorithm: "ES256", Use: "sig"},
		{Key: rsaKey.Public(), KeyID: "rp-rsa", Algorithm: "RS256", Use: "sig"},
	}})
	both := []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
	for _, c := range []*store.Client{
		{ID: "fapi-basic", SecretHash: secret.HashBytes(basicSecret), Metadata: store.ClientMetadata{GrantTypes: both, Profile: authzpolicy.ProfileFAPI2}},
		{ID: "fapi", Metadata: store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT, JWKS: jwks, GrantTypes: both, Profile: authzpolicy.ProfileFAPI2}},
	} {
		if err := e.st.Clients.Create(context.Background(), c); err != nil {
			e.t.Fatal(err)
		}
	}
	return rsaKey
}

func TestFAPI2AtTheTokenEndpoint(t *testing.T) {
	e := withDPoP(t)
	rsaKey := e.addFAPIClients()
	pkjwtAud := func(f map[string][]string, alg gojose.SignatureAlgorithm, key any, aud any) Credentials {
		f["client_assertion_type"] = []string{oauth.ClientAssertionTypeJWTBearer}
		f["client_assertion"] = []string{e.assertion(alg, key, map[string]any{"aud": aud}, "fapi")}
		return formCreds(f)
	}
	// FAPI 2.0 §5.3.2.1: the issuer as the sole audience.
	pkjwt := func(f map[string][]string, alg gojose.SignatureAlgorithm, key any) Credentials {
		return pkjwtAud(f, alg, key, issuer)
	}
	for name, aud := range map[string]any{
		"token endpoint as audience": issuer + "/token",
		"array as audience":          []string{issuer},
	} {
		c := e.code(codeOpts{client: "fapi"})
		_, err := e.svc.Token(t.Context(), pkjwtAud(codeForm(c), gojose.ES256, e.clientKey, aud))
		wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
		if !strings.Contains(err.Error(), "aud to be the issuer identifier") {
			t.Errorf("%s refused for another reason: %v", name, err)
		}
	}

	c := e.code(codeOpts{client: "fapi-basic"})
	_, err := e.svc.Token(t.Context(), basic("fapi-basic", basicSecret, codeForm(c)))
	wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
	if !strings.Contains(err.Error(), "private_key_jwt or mutual-TLS") {
		t.Errorf("client_secret_basic refused for another reason: %v", err)
	}

	c = e.code(codeOpts{client: "fapi"})
	_, err = e.svc.Token(t.Context(), pkjwt(codeForm(c), gojose.RS256, gojose.JSONWebKey{Key: rsaKey, KeyID: "rp-rsa"}))
	wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
	if !strings.Contains(err.Error(), "PS256, ES256 or EdDSA") {
		t.Errorf("RS256 assertion refused for another reason: %v", err)
	}

	// Without a sender constraint: refused.
	c = e.code(codeOpts{client: "fapi"})
	_, err = e.svc.Token(t.Context(), pkjwt(codeForm(c), gojose.ES256, e.clientKey))
	wantOAuthError(t, err, oauth.ErrCodeInvalidRequest, http.StatusBadRequest)

	// With a DPoP proof: DPoP-bound tokens.
	key := e.dpopClient()
	c = e.code(codeOpts{client: "fapi"})
	resp, err := e.svc.Token(t.Context(), withProof(pkjwt(codeForm(c), gojose.ES256, e.clientKey), key.Proof("POST", tokenURL, testdpop.Opts{})))
	if err != nil {
		t.Fatal(err)
	}
	if claims, _ := e.payload(resp.AccessToken); resp.TokenType != "DPoP" || claims["cnf"] == nil {
		t.Fatalf("token_type %q, cnf %v; want a DPoP-bound token", resp.TokenType, claims["cnf"])
	}
	// With the client's certificate, certificate-bound tokens.
	e.svc.CertBoundAccessTokens = true
	c = e.code(codeOpts{client: "fapi"})
	cc := pkjwt(codeForm(c), gojose.ES256, e.clientKey)
	cc.CertThumbprint = "thumb-A"
	if resp, err = e.svc.Token(t.Context(), cc); err != nil {
		t.Fatalf("certificate-bound: %v", err)
	}
	if claims, _ := e.payload(resp.AccessToken); claims["cnf"] == nil {
		t.Fatalf("cnf %v; want a certificate-bound token", claims["cnf"])
	}
	// The profile is per client: an ordinary client still gets bearer tokens.
	if r := e.redeem(codeOpts{}); r.TokenType != "Bearer" {
		t.Errorf("ordinary client: token_type %q", r.TokenType)
	}
}
