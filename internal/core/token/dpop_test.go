package token

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/testdpop"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	tokenURL    = issuer + "/token"
	userinfoURL = issuer + "/userinfo"
)

// withDPoP wires a DPoP verifier and adds the clients the DPoP tests use.
func withDPoP(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.svc.DPoP = &dpop.Verifier{Algs: dpop.DefaultAlgs(), Replay: e.svc.Replay, Sealer: e.sealer,
		Now: func() time.Time { return e.now }}
	both := []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
	for _, c := range []*store.Client{
		{ID: "dpop-only", Metadata: store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodNone,
			GrantTypes: both, DPoPBoundAccessTokens: true}},
		{ID: "mtls-bound", Metadata: store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodNone,
			GrantTypes: both, TLSClientCertificateBoundAccessTokens: true}},
	} {
		if err := e.st.Clients.Create(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) dpopClient() *testdpop.Client {
	c := testdpop.New(e.t)
	c.Now = func() time.Time { return e.now }
	return c
}

func withProof(c Credentials, proofs ...string) Credentials {
	c.DPoP = proofs
	return c
}

func TestDPoPPublicClientFlow(t *testing.T) {
	e := withDPoP(t)
	ctx := t.Context()
	key := e.dpopClient()
	code := e.code(codeOpts{client: "public"})
	resp, err := e.svc.Token(ctx, withProof(formCreds(codeForm(code, "client_id", "public")), key.Proof("POST", tokenURL, testdpop.Opts{})))
	if err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "DPoP" {
		t.Errorf("token_type = %q, want DPoP", resp.TokenType)
	}
	claims, _ := e.payload(resp.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.JKT() {
		t.Errorf("cnf = %v, want jkt %s", claims["cnf"], key.JKT())
	}
	if gs := e.grants(); len(gs) != 1 || gs[0].Confirmation.JKT != key.JKT() {
		t.Fatalf("grant confirmation = %+v, want the proof key", gs)
	}

	// The public client's refresh token is bound to the key.
	refresh := func(proofs ...string) (*Response, error) {
		return e.svc.Token(ctx, withProof(formCreds(form("grant_type", "refresh_token", "refresh_token", resp.RefreshToken,
			"client_id", "public")), proofs...))
	}
	_, err = refresh()
	wantOAuthError(t, err, oauth.ErrCodeInvalidDPoPProof, http.StatusBadRequest)
	_, err = refresh(e.dpopClient().Proof("POST", tokenURL, testdpop.Opts{}))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	again, err := refresh(key.Proof("POST", tokenURL, testdpop.Opts{}))
	if err != nil || again.TokenType != "DPoP" {
		t.Fatalf("refresh with the key: %+v, %v", again, err)
	}

	// UserInfo.
	ui := func(p Presentation) error {
		_, err := e.svc.UserInfoPresented(ctx, p)
		return err
	}
	at := again.AccessToken
	good := func() Presentation {
		return Presentation{Token: at, Scheme: "DPoP", Method: "GET", URL: userinfoURL,
			DPoP: []string{key.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: at})}}
	}
	if err := ui(good()); err != nil {
		t.Fatalf("userinfo with the proof: %v", err)
	}
	err = ui(Presentation{Token: at, Scheme: "Bearer"})
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	if oe := oauth.AsError(err); oe.Scheme != "DPoP" {
		t.Errorf("bound token as Bearer challenges with %q, want DPoP", oe.Scheme)
	}
	_, err = e.svc.UserInfo(ctx, at)
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	p := good()
	p.DPoP = nil
	wantOAuthError(t, ui(p), oauth.ErrCodeInvalidDPoPProof, http.StatusUnauthorized)
	p = good()
	p.DPoP = []string{e.dpopClient().Proof("GET", userinfoURL, testdpop.Opts{AccessToken: at})}
	wantOAuthError(t, ui(p), oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	p = good()
	p.DPoP = []string{key.Proof("GET", userinfoURL, testdpop.Opts{})}
	wantOAuthError(t, ui(p), oauth.ErrCodeInvalidDPoPProof, http.StatusUnauthorized)
	p = good()
	if err := ui(p); err != nil {
		t.Fatalf("fresh proof: %v", err)
	}
	wantOAuthError(t, ui(p), oauth.ErrCodeInvalidDPoPProof, http.StatusUnauthorized) // the same proof again
	p = good()
	p.DPoP = []string{key.Proof("GET", tokenURL, testdpop.Opts{AccessToken: at})}
	wantOAuthError(t, ui(p), oauth.ErrCodeInvalidDPoPProof, http.StatusUnauthorized)

	// Introspection reports the binding.
	in, err := e.svc.Inspect(ctx, at)
	if err != nil || in == nil {
		t.Fatalf("inspect: %+v, %v", in, err)
	}
	m := in.Members(issuer)
	if m["token_type"] != "DPoP" || m["cnf"] != (store.Confirmation{JKT: key.JKT()}) {
		t.Errorf("introspection token_type %v cnf %v", m["token_type"], m["cnf"])
	}
	in, err = e.svc.Inspect(ctx, resp.RefreshToken)
	if err != nil || in == nil || in.Confirmation.JKT != key.JKT() {
		t.Errorf("refresh token introspection: %+v, %v", in, err)
	}
}

func TestDPoPIdentifierTokenAndConfidentialClient(t *testing.T) {
	e := withDPoP(t)
	ctx := t.Context()
	key := e.dpopClient()
	code := e.code(codeOpts{tokens: &store.TokenSpec{AccessTokenEncoding: oauth.TokenEncodingIdentifier,
		IssueRefreshToken: true, RefreshTokenLifetime: time.Hour}})
	resp, err := e.svc.Token(ctx, withProof(basic("basic", basicSecret, codeForm(code)), key.Proof("POST", tokenURL, testdpop.Opts{})))
	if err != nil || resp.TokenType != "DPoP" {
		t.Fatalf("redeem: %+v, %v", resp, err)
	}
	// A confidential client's refresh tokens are bound by its
	// authentication, not the key: no proof, a Bearer token.
	if gs := e.grants(); len(gs) != 1 || !gs[0].Confirmation.IsZero() {
		t.Fatalf("confidential grant bound: %+v", gs)
	}
	again, err := e.svc.Token(ctx, basic("basic", basicSecret, form("grant_type", "refresh_token", "refresh_token", resp.RefreshToken)))
	if err != nil || again.TokenType != "Bearer" {
		t.Fatalf("refresh without proof: %+v, %v", again, err)
	}
	if _, err := e.svc.UserInfo(ctx, again.AccessToken); err != nil {
		t.Fatalf("unbound token: %v", err)
	}
	// The identifier token keeps its binding in the store.
	_, err = e.svc.UserInfo(ctx, resp.AccessToken)
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	_, err = e.svc.UserInfoPresented(ctx, Presentation{Token: resp.AccessToken, Scheme: "DPoP", Method: "GET", URL: userinfoURL,
		DPoP: []string{key.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: resp.AccessToken})}})
	if err != nil {
		t.Fatalf("identifier token with proof: %v", err)
	}
	// An unbound token presented with the DPoP scheme.
	_, err = e.svc.UserInfoPresented(ctx, Presentation{Token: again.AccessToken, Scheme: "DPoP", Method: "GET", URL: userinfoURL,
		DPoP: []string{key.Proof("GET", userinfoURL, testdpop.Opts{AccessToken: again.AccessToken})}})
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
}

func TestDPoPTokenRequestRefusals(t *testing.T) {
	e := withDPoP(t)
	ctx := t.Context()
	key := e.dpopClient()
	publicCode := func(o codeOpts) Credentials {
		o.client = "public"
		return formCreds(codeForm(e.code(o), "client_id", "public"))
	}
	cases := []struct {
		name   string
		creds  func() Credentials
		code   string
		status int
	}{
		{"two proofs", func() Credentials {
			return withProof(publicCode(codeOpts{}), key.Proof("POST", tokenURL, testdpop.Opts{}), key.Proof("POST", tokenURL, testdpop.Opts{}))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"wrong htu", func() Credentials {
			return withProof(publicCode(codeOpts{}), key.Proof("POST", issuer+"/par", testdpop.Opts{}))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"expired", func() Credentials {
			return withProof(publicCode(codeOpts{}), key.Proof("POST", tokenURL, testdpop.Opts{IAT: e.now.Add(-10 * time.Minute)}))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"private jwk", func() Credentials {
			return withProof(publicCode(codeOpts{}), key.Proof("POST", tokenURL, testdpop.Opts{PrivateJWK: true}))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"dpop_jkt without proof", func() Credentials {
			return publicCode(codeOpts{dpopJKT: key.JKT()})
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"dpop_jkt other key", func() Credentials {
			return withProof(publicCode(codeOpts{dpopJKT: key.JKT()}), e.dpopClient().Proof("POST", tokenURL, testdpop.Opts{}))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"dpop_bound_access_tokens without proof", func() Credentials {
			return formCreds(codeForm(e.code(codeOpts{client: "dpop-only"}), "client_id", "dpop-only"))
		}, oauth.ErrCodeInvalidDPoPProof, 400},
		{"certificate-bound client without certificate", func() Credentials {
			return formCreds(codeForm(e.code(codeOpts{client: "mtls-bound"}), "client_id", "mtls-bound"))
		}, oauth.ErrCodeInvalidRequest, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Token(ctx, tc.creds())
			wantOAuthError(t, err, tc.code, tc.status)
		})
	}
	// Replay of a proof that was accepted once.
	proof := key.Proof("POST", tokenURL, testdpop.Opts{})
	if _, err := e.svc.Token(ctx, withProof(publicCode(codeOpts{dpopJKT: key.JKT()}), proof)); err != nil {
		t.Fatalf("dpop_jkt with its key: %v", err)
	}
	_, err := e.svc.Token(ctx, withProof(publicCode(codeOpts{}), proof))
	wantOAuthError(t, err, oauth.ErrCodeInvalidDPoPProof, 400)

	// Without a verifier a proof is refused, not ignored.
	e.svc.DPoP = nil
	_, err = e.svc.Token(ctx, withProof(publicCode(codeOpts{}), key.Proof("POST", tokenURL, testdpop.Opts{})))
	wantOAuthError(t, err, oauth.ErrCodeInvalidDPoPProof, 400)
}

func TestDPoPNonceAtTokenEndpoint(t *testing.T) {
	e := withDPoP(t)
	e.svc.DPoP.NonceRequired = true
	key := e.dpopClient()
	code := e.code(codeOpts{client: "public"})
	_, err := e.svc.Token(t.Context(), withProof(formCreds(codeForm(code, "client_id", "public")), key.Proof("POST", tokenURL, testdpop.Opts{})))
	wantOAuthError(t, err, oauth.ErrCodeUseDPoPNonce, 400)
	nonce := oauth.AsError(err).DPoPNonce
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a nonce")
	}
	// The code was not consumed by the refused request.
	resp, err := e.svc.Token(t.Context(), withProof(formCreds(codeForm(code, "client_id", "public")), key.Proof("POST", tokenURL, testdpop.Opts{Nonce: nonce})))
	if err != nil || resp.TokenType != "DPoP" {
		t.Fatalf("with the nonce: %+v, %v", resp, err)
	}
}

func TestCertificateBoundTokens(t *testing.T) {
	e := withDPoP(t)
	ctx := t.Context()
	code := e.code(codeOpts{client: "mtls-bound"})
	c := formCreds(codeForm(code, "client_id", "mtls-bound"))
	c.CertThumbprint = "thumb-A"
	resp, err := e.svc.Token(ctx, c)
	if err != nil || resp.TokenType != "Bearer" {
		t.Fatalf("redeem: %+v, %v", resp, err)
	}
	claims, _ := e.payload(resp.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != "thumb-A" {
		t.Errorf("cnf = %v, want x5t#S256", claims["cnf"])
	}
	_, err = e.svc.UserInfoPresented(ctx, Presentation{Token: resp.AccessToken, Scheme: "Bearer", CertThumbprint: "thumb-B"})
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	_, err = e.svc.UserInfo(ctx, resp.AccessToken)
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	if _, err := e.svc.UserInfoPresented(ctx, Presentation{Token: resp.AccessToken, Scheme: "Bearer", CertThumbprint: "thumb-A"}); err != nil {
		t.Fatalf("with its certificate: %v", err)
	}
	// The public client's refresh token is bound to the certificate too
	// (RFC 8705 §4).
	refresh := func(thumb string) (*Response, error) {
		c := formCreds(form("grant_type", "refresh_token", "refresh_token", resp.RefreshToken, "client_id", "mtls-bound"))
		c.CertThumbprint = thumb
		return e.svc.Token(ctx, c)
	}
	_, err = refresh("thumb-B")
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	_, err = refresh("")
	wantOAuthError(t, err, oauth.ErrCodeInvalidRequest, http.StatusBadRequest)
	again, err := refresh("thumb-A")
	if err != nil {
		t.Fatalf("refresh with the certificate: %v", err)
	}
	claims, _ = e.payload(again.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["x5t#S256"] != "thumb-A" {
		t.Errorf("refreshed cnf = %v", claims["cnf"])
	}
}

// A stateless client credentials token is DPoP-bound like any other, and
// introspection reports the binding.
func TestDPoPClientCredentials(t *testing.T) {
	e := withDPoP(t)
	e = e.withGrants(nil)
	key := e.dpopClient()
	resp, err := e.token(withProof(basic("svc", basicSecret, form("grant_type", gtCC, "scope", "read")), key.Proof("POST", tokenURL, testdpop.Opts{})))
	if err != nil || resp.TokenType != "DPoP" {
		t.Fatalf("client credentials with DPoP: %+v, %v", resp, err)
	}
	claims, _ := e.payload(resp.AccessToken)
	if cnf, _ := claims["cnf"].(map[string]any); cnf["jkt"] != key.JKT() {
		t.Errorf("cnf = %v", claims["cnf"])
	}
	in, err := e.svc.Inspect(t.Context(), resp.AccessToken)
	if err != nil || in == nil || in.Members(issuer)["token_type"] != "DPoP" || in.Confirmation.JKT != key.JKT() {
		t.Errorf("introspection: %+v, %v", in, err)
	}
}

// PushedDPoP (RFC 9449 §10.1): a proof at PAR sets dpop_jkt, or must match
// the one the request carries.
func TestPushedDPoP(t *testing.T) {
	e := withDPoP(t)
	ctx := t.Context()
	key := e.dpopClient()
	parURL := issuer + "/par"
	c := formCreds(form("client_id", "public"))
	c.URL, c.DPoP = parURL, []string{key.Proof("POST", parURL, testdpop.Opts{})}
	if err := e.svc.PushedDPoP(ctx, c); err != nil || c.Form.Get("dpop_jkt") != key.JKT() {
		t.Fatalf("PushedDPoP: %v, dpop_jkt %q", err, c.Form.Get("dpop_jkt"))
	}
	c = formCreds(form("client_id", "public", "dpop_jkt", key.JKT()))
	c.URL, c.DPoP = parURL, []string{key.Proof("POST", parURL, testdpop.Opts{})}
	if err := e.svc.PushedDPoP(ctx, c); err != nil {
		t.Fatalf("matching dpop_jkt: %v", err)
	}
	c = formCreds(form("client_id", "public", "dpop_jkt", e.dpopClient().JKT()))
	c.URL, c.DPoP = parURL, []string{key.Proof("POST", parURL, testdpop.Opts{})}
	wantOAuthError(t, e.svc.PushedDPoP(ctx, c), oauth.ErrCodeInvalidDPoPProof, 400)
	c = formCreds(form("client_id", "public"))
	c.URL, c.DPoP = parURL, []string{key.Proof("POST", tokenURL, testdpop.Opts{})}
	wantOAuthError(t, e.svc.PushedDPoP(ctx, c), oauth.ErrCodeInvalidDPoPProof, 400)
	c.DPoP = []string{"a", "b"}
	wantOAuthError(t, e.svc.PushedDPoP(ctx, c), oauth.ErrCodeInvalidDPoPProof, 400)
	c = formCreds(form("client_id", "public"))
	if err := e.svc.PushedDPoP(ctx, c); err != nil || c.Form.Has("dpop_jkt") {
		t.Fatalf("no proof: %v, %v", err, c.Form)
	}
}
