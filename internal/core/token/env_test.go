package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testkeys"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

// The real implementations satisfy the interfaces the core declares.
var (
	_ Signer            = (*jose.KeyManager)(nil)
	_ AssertionVerifier = (*jose.ClientKeys)(nil)
	_ ClaimsResolver    = (*claims.Resolver)(nil)
	_ ClientGetter      = store.ClientStore(nil)
)

const (
	issuer      = "https://op.example.com"
	redirectURI = "https://rp.example.com/cb"
	basicSecret = "basic-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	postSecret  = "post-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	jwtSecret   = "jwt-secret-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"
)

// directory holds the demo-like users the claims resolver serves.
func directory(t testing.TB) plugin.ClaimsSource {
	d, err := users.New([]users.User{{
		Sub: "alice",
		Claims: map[string]any{
			"name": "Alice Adams", "email": "alice@example.com", "email_verified": true,
			"phone_number": "+44 20 7946 0018",
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type env struct {
	t      testing.TB
	now    time.Time
	st     store.Durable
	svc    *Service
	keys   *jose.KeyManager
	sealer *secret.Sealer
	logs   *bytes.Buffer
	// clientKey signs private_key_jwt assertions of client "pkjwt".
	clientKey *ecdsa.PrivateKey
}

func newEnv(t testing.TB) *env {
	t.Helper()
	km := testkeys.Manager(t)
	master := make([]byte, secret.MasterKeySize)
	rand.Read(master)
	keys, err := secret.DeriveKeys(master)
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := claims.NewResolver([]plugin.ClaimsSource{directory(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, now: time.Now().UTC().Truncate(time.Second),
		keys: km, sealer: keys.Sealer, logs: &bytes.Buffer{},
	}
	ms, err := memstore.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.st = ms.Durable()
	eph := ms.Ephemeral()
	e.svc = &Service{
		Config:        Config{Issuer: issuer},
		Clients:       e.st.Clients,
		Sealer:        keys.Sealer,
		Codes:         eph.Codes,
		Grants:        e.st.Grants,
		RefreshTokens: e.st.RefreshTokens,
		AccessTokens:  e.st.AccessTokens,
		Replay:        eph.Replay,
		Keys:          km,
		ClientKeys:    jose.NewClientKeys(nil, func() time.Time { return e.now }),
		Claims:        resolver,
		Now:           func() time.Time { return e.now },
		Log:           slog.New(slog.NewTextHandler(e.logs, nil)),
	}
	e.addClients()
	return e
}

func (e *env) addClients() {
	e.t.Helper()
	sealed, err := e.sealer.Seal([]byte(jwtSecret), []byte("jwtc"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.clientKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	jwks, err := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{{
		Key: e.clientKey.Public(), KeyID: "rp-1", Algorithm: "ES256", Use: "sig",
	}}})
	if err != nil {
		e.t.Fatal(err)
	}
	both := []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken}
	for _, c := range []*store.Client{
		{ID: "basic", SecretHash: secret.HashBytes(basicSecret), Metadata: store.ClientMetadata{GrantTypes: both}},
		{ID: "basic2", SecretHash: secret.HashBytes(basicSecret), Metadata: store.ClientMetadata{GrantTypes: both}},
		{ID: "post", SecretHash: secret.HashBytes(postSecret), Metadata: store.ClientMetadata{
			TokenEndpointAuthMethod: oauth.AuthMethodClientSecretPost, GrantTypes: both,
			IDTokenSignedResponseAlg: "ES256"}},
		{ID: "expired", SecretHash: secret.HashBytes(basicSecret), SecretExpiresAt: e.now.Add(-time.Second)},
		{ID: "codeonly", SecretHash: secret.HashBytes(basicSecret)},
		{ID: "jwtc", SecretSealed: sealed, Metadata: store.ClientMetadata{
			TokenEndpointAuthMethod: oauth.AuthMethodClientSecretJWT, GrantTypes: both}},
		{ID: "pkjwt", Metadata: store.ClientMetadata{
			TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT, JWKS: jwks, GrantTypes: both,
			IDTokenSignedResponseAlg: "EdDSA"}},
		{ID: "public", Metadata: store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodNone, GrantTypes: both}},
	} {
		if err := e.st.Clients.Create(context.Background(), c); err != nil {
			e.t.Fatal(err)
		}
	}
}

// grants returns alice's live grants.
func (e *env) grants() []*store.Grant {
	e.t.Helper()
	gs, err := e.st.Grants.List(context.Background(), store.GrantFilter{Subject: "alice"}, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	return gs
}

// refreshToken returns the stored record of a refresh token value, or nil.
func (e *env) refreshToken(v string) *store.RefreshToken {
	rt, err := e.st.RefreshTokens.Get(context.Background(), secret.Hash(v), e.now)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return rt
}

// creds helpers

func basic(id, sec string, form url.Values) Credentials {
	return Credentials{BasicID: id, BasicSecret: sec, HasBasic: true, Form: form}
}

func formCreds(form url.Values) Credentials { return Credentials{Form: form} }

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// assertion signs a client assertion; claims override the defaults.
func (e *env) assertion(alg gojose.SignatureAlgorithm, key any, override map[string]any, clientID string) string {
	e.t.Helper()
	c := map[string]any{
		"iss": clientID, "sub": clientID, "aud": issuer + "/token",
		"exp": e.now.Add(time.Minute).Unix(), "iat": e.now.Unix(), "jti": randomString(e.t),
	}
	for k, v := range override {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	opts := (&gojose.SignerOptions{}).WithType("JWT")
	sk := gojose.SigningKey{Algorithm: alg, Key: key}
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		sk.Key = gojose.JSONWebKey{Key: k, KeyID: "rp-1"}
	}
	signer, err := gojose.NewSigner(sk, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := signer.Sign(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func randomString(t testing.TB) string {
	s, err := secret.Token(nil, 16)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// code issuance, as internal/core/authz will do it

type codeOpts struct {
	client, redirect, challenge, method, nonce string
	dpopJKT                                    string
	tokens                                     *store.TokenSpec
	scope                                      []string
	lifetime                                   time.Duration
	longLived                                  bool
	// grant edits the consented grant before the code is stored.
	grant func(*store.Grant)
}

func (e *env) grantTemplate(client string) store.Grant {
	return store.Grant{
		Subject:  "alice",
		ClientID: client,
		Consented: store.Consented{
			Scope:                []string{"openid", "email", "profile", "offline_access"},
			Claims:               []string{"name", "email", "id_token:email_verified"},
			PresetIDTokenClaims:  map[string]any{"group": "admins"},
			PresetUserInfoClaims: map[string]any{"dept": "eng"},
		},
		Tokens: store.TokenSpec{
			IssueRefreshToken: true, RefreshTokenLifetime: 24 * time.Hour, AllowIDTokenRefresh: true,
		},
		SubjectSessionID: "subject-session-key",
		AuthTime:         e.now.Add(-time.Minute),
		ACR:              "urn:keyward:acr:pwd",
		AMR:              []string{"pwd"},
	}
}

func (e *env) code(o codeOpts) string {
	e.t.Helper()
	if o.client == "" {
		o.client = "basic"
	}
	if o.redirect == "" {
		o.redirect = redirectURI
	}
	if o.lifetime == 0 {
		o.lifetime = time.Minute
	}
	g := e.grantTemplate(o.client)
	if o.tokens != nil {
		g.Tokens = *o.tokens
	}
	if o.scope != nil {
		g.Scope = o.scope
	}
	g.LongLived = o.longLived
	if o.grant != nil {
		o.grant(&g)
	}
	v := randomString(e.t)
	err := e.svc.Codes.Create(context.Background(), &store.Code{
		ID: secret.Hash(v), GrantID: "g-" + randomString(e.t), ClientID: o.client,
		RedirectURI: o.redirect, CodeChallenge: o.challenge, CodeChallengeMethod: o.method,
		Nonce: o.nonce, DPoPJKT: o.dpopJKT, Grant: g, CreatedAt: e.now, ExpiresAt: e.now.Add(o.lifetime),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func codeForm(code string, kv ...string) url.Values {
	f := form("grant_type", "authorization_code", "code", code, "redirect_uri", redirectURI)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

// redeem runs a successful code flow for client "basic" and returns the
// token response.
func (e *env) redeem(o codeOpts) *Response {
	e.t.Helper()
	c := e.code(o)
	resp, err := e.svc.Token(e.t.Context(), basic("basic", basicSecret, codeForm(c)))
	if err != nil {
		e.t.Fatalf("redeem code: %v", err)
	}
	return resp
}

// payload verifies a JWT we signed and decodes its claims and header.
func (e *env) payload(token string) (map[string]any, header) {
	e.t.Helper()
	h, ok := jwsHeader(token)
	if !ok {
		e.t.Fatalf("not a JWS: %q", token)
	}
	raw, err := e.keys.Verify(token, []string{h.Alg})
	if err != nil {
		e.t.Fatalf("verify %s: %v", h.Alg, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatal(err)
	}
	return m, h
}

// wantOAuthError fails unless err is an *oauth.Error with code and status.
func wantOAuthError(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		t.Fatalf("got %T %v, want *oauth.Error %s", err, err, code)
	}
	if diff := cmp.Diff(struct {
		Code   string
		Status int
	}{code, status}, struct {
		Code   string
		Status int
	}{oe.Code, oe.Status}); diff != "" {
		t.Fatalf("error %q (-want +got):\n%s", oe.Error(), diff)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func splitJWT(t testing.TB, tok string) []string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	return parts
}
