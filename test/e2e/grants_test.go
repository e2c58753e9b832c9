package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	gojose "github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/simple"
	"github.com/keyward/keyward/store/postgres/pgtest"
)

// verifyAccessToken checks a JWT access token against the node's
// /jwks.json with go-oidc, as a resource server would, and returns its
// claims.
func (e *env) verifyAccessToken(tok string) map[string]any {
	e.t.Helper()
	ks := oidc.NewRemoteKeySet(oidc.ClientContext(e.t.Context(), e.http), e.issuer+"/jwks.json")
	payload, err := ks.VerifySignature(e.t.Context(), tok)
	if err != nil {
		e.t.Fatalf("verify access token against /jwks.json: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) grantTypesSupported() []string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	_, doc := e.doJSON(req)
	var out []string
	for _, g := range doc["grant_types_supported"].([]any) {
		out = append(out, g.(string))
	}
	return out
}

// rowCounts returns the number of rows of every table.
func rowCounts(t *testing.T, dsn string) map[string]int {
	t.Helper()
	out := map[string]int{}
	postgresTables(t, dsn, func(ctx context.Context, conn *pgx.Conn, name string) {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	})
	return out
}

// TestClientCredentialsWritesNothing: the client credentials grant is on by
// default; with JWT access tokens a burst of parallel grants leaves every
// table of PostgreSQL exactly as it was, and the tokens verify against
// /jwks.json and introspect as active.
func TestClientCredentialsWritesNothing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	e := newEnv(t, func(c *config.Config) { c.Store = dsn })
	if gts := e.grantTypesSupported(); !slices.Contains(gts, oauth.GrantTypeClientCredentials) || slices.Contains(gts, oauth.GrantTypePassword) {
		t.Errorf("grant_types_supported = %v, want client_credentials and not password", gts)
	}
	status, reg := e.registerClient(map[string]any{
		"client_name": "batch job", "grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read write",
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	if rt, ok := reg["response_types"]; ok && len(rt.([]any)) != 0 {
		t.Errorf("response_types = %v, want none", rt)
	}
	if _, ok := reg["redirect_uris"]; ok {
		t.Errorf("redirect_uris = %v, want none", reg["redirect_uris"])
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	// Warm the client cache and the key set first: a first request may
	// legitimately read, but no request may write.
	if st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, id, sec); st != 200 {
		t.Fatalf("token: %d %v", st, body)
	}
	before := rowCounts(t, dsn)
	var wg sync.WaitGroup
	tokens := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read admin"}}, id, sec)
			if st != 200 || body["scope"] != "read" || body["refresh_token"] != nil {
				t.Errorf("token: %d %v", st, body)
				return
			}
			tokens <- body["access_token"].(string)
		})
	}
	wg.Wait()
	close(tokens)
	if after := rowCounts(t, dsn); !mapsEqual(before, after) {
		t.Errorf("row counts changed by client credentials grants:\nbefore %v\nafter  %v", before, after)
	}
	tok := <-tokens
	claims := e.verifyAccessToken(tok)
	if claims["sub"] != id || claims["client_id"] != id || claims["iss"] != e.issuer {
		t.Errorf("claims %v", claims)
	}
	st, in, _ := e.postForm("/token/introspect", url.Values{"token": {tok}}, id, sec)
	if st != 200 || in["active"] != true || in["client_id"] != id {
		t.Errorf("introspection: %d %v", st, in)
	}

	// Bad input, each with its code.
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"nothing allowed", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"password off", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}}, 400, "unsupported_grant_type"},
		{"jwt bearer off", url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {"x"}}, 400, "unsupported_grant_type"},
	} {
		st, body, _ := e.postForm("/token", tc.form, id, sec)
		if st != tc.status || body["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, body, tc.status, tc.code)
		}
	}
	// A code-flow client is not registered for it.
	r := e.newRP(nil)
	if st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, r.clientID, r.clientSecret); st != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("code-flow client: %d %v", st, body)
	}
	// Registration refuses what is off.
	if st, body := e.registerClient(map[string]any{"grant_types": []string{"password"}, "response_types": []string{}}); st != 400 || body["error"] != "invalid_client_metadata" {
		t.Errorf("register password client with the grant off: %d %v", st, body)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// rotatingJWKS serves a trusted issuer's key set, which the test rotates.
type rotatingJWKS struct {
	mu  sync.Mutex
	set []byte
}

func (j *rotatingJWKS) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	j.mu.Lock()
	defer j.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(j.set)
}

func (j *rotatingJWKS) use(t *testing.T, k *ecdsa.PrivateKey, kid string) {
	b, err := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{{Key: k.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	j.mu.Lock()
	j.set = b
	j.mu.Unlock()
}

func signJWT(t *testing.T, k any, kid string, claims map[string]any) string {
	t.Helper()
	sk := gojose.SigningKey{Algorithm: gojose.ES256, Key: gojose.JSONWebKey{Key: k, KeyID: kid}}
	if b, ok := k.([]byte); ok {
		sk = gojose.SigningKey{Algorithm: gojose.HS256, Key: b}
	}
	s, err := gojose.NewSigner(sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPasswordAndJWTBearerGrants: the password grant with the users file
// and the JWT bearer grant with a third-party issuer whose jwks_uri (a real
// HTTP server) rotates its key mid-test; tokens verify against /jwks.json.
func TestPasswordAndJWTBearerGrants(t *testing.T) {
	stsKey1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stsKey2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks := &rotatingJWKS{}
	jwks.use(t, stsKey1, "sts-1")
	sts := httptest.NewServer(jwks)
	defer sts.Close()
	const stsIssuer = "https://sts.example.org"
	e := newEnv(t, func(c *config.Config) {
		c.Grants.Password.Handler = "users"
		c.Grants.JWTBearer.Handler = "simple"
		c.Grants.JWTBearer.TrustedIssuers = []config.TrustedIssuer{{Issuer: stsIssuer, JWKSURI: sts.URL + "/jwks.json"}}
	})
	gts := e.grantTypesSupported()
	for _, g := range []string{oauth.GrantTypePassword, oauth.GrantTypeJWTBearer, oauth.GrantTypeClientCredentials} {
		if !slices.Contains(gts, g) {
			t.Errorf("grant_types_supported = %v lacks %s", gts, g)
		}
	}
	if slices.Contains(gts, oauth.GrantTypeSAML2Bearer) {
		t.Errorf("grant_types_supported = %v advertises saml2-bearer", gts)
	}
	status, reg := e.registerClient(map[string]any{
		"grant_types": []string{"password", "refresh_token", oauth.GrantTypeJWTBearer}, "response_types": []string{},
		"scope": "openid email read",
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)

	st, body, _ := e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid email"}}, id, sec)
	if st != 200 || body["refresh_token"] == nil || body["id_token"] == nil {
		t.Fatalf("password grant: %d %v", st, body)
	}
	if c := e.verifyAccessToken(body["access_token"].(string)); c["sub"] != "alice" {
		t.Errorf("password access token %v", c)
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(t.Context(), e.http), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(oidc.ClientContext(t.Context(), e.http), body["id_token"].(string))
	if err != nil || idt.Subject != "alice" {
		t.Fatalf("id token: %v %v", idt, err)
	}
	// UserInfo serves the scope's claims from the users file.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	if st, ui := e.doJSON(req); st != 200 || ui["email"] != "alice@example.com" {
		t.Errorf("userinfo: %d %v", st, ui)
	}
	for _, pw := range []string{"wrong", ""} {
		st, body, _ := e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}}, id, sec)
		if st != 400 || body["error"] != "invalid_grant" {
			t.Errorf("wrong password %q: %d %v", pw, st, body)
		}
	}

	claims := func(jti string) map[string]any {
		now := time.Now()
		return map[string]any{"iss": stsIssuer, "sub": "alice", "aud": e.issuer + "/token", "jti": jti,
			"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	}
	bearer := func(assertion string) (int, map[string]any) {
		st, body, _ := e.postForm("/token", url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {assertion}, "scope": {"read"}}, id, sec)
		return st, body
	}
	a1 := signJWT(t, stsKey1, "sts-1", claims("j1"))
	st, body = bearer(a1)
	if st != 200 {
		t.Fatalf("jwt bearer: %d %v", st, body)
	}
	if c := e.verifyAccessToken(body["access_token"].(string)); c["sub"] != "alice" || c["scope"] != "read" {
		t.Errorf("jwt bearer access token %v", c)
	}
	if st, body := bearer(a1); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("replayed jti: %d %v", st, body)
	}
	// The issuer rotates its key. The cached set was fetched moments ago,
	// so the re-fetch on the unknown kid waits out its interval (10 s);
	// until then the new key is refused, never a 5xx.
	jwks.use(t, stsKey2, "sts-2")
	if st, body := bearer(signJWT(t, stsKey2, "sts-2", claims("j2"))); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("new kid within the re-fetch interval: %d %v", st, body)
	}
	for name, a := range map[string]string{
		"alg none":    "eyJhbGciOiJub25lIn0." + b64url(`{"iss":"`+stsIssuer+`","sub":"alice","aud":"`+e.issuer+`/token","exp":9999999999,"jti":"n"}`) + ".",
		"HMAC":        signJWT(t, []byte(strings.Repeat("k", 32)), "", claims("j3")),
		"wrong aud":   signJWT(t, stsKey1, "sts-1", func() map[string]any { c := claims("j4"); c["aud"] = "https://other/token"; return c }()),
		"far ahead":   signJWT(t, stsKey1, "sts-1", func() map[string]any { c := claims("j5"); c["exp"] = time.Now().Add(3 * time.Hour).Unix(); return c }()),
		"unknown iss": signJWT(t, stsKey1, "sts-1", func() map[string]any { c := claims("j6"); c["iss"] = "https://evil"; return c }()),
	} {
		if st, body := bearer(a); st != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	// An assertion over the request size limit gets the request-size answer.
	if st, body := bearer(strings.Repeat("a", 60_000)); st != http.StatusRequestEntityTooLarge || body["error"] != "invalid_request" {
		t.Errorf("oversized assertion: %d %v", st, body)
	}
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestGrantWebHooks: the client credentials grant decided by a real web
// hook wrapping the simple handler, and a hook that is down answers
// temporarily_unavailable within its timeout.
func TestGrantWebHooks(t *testing.T) {
	hook := httptest.NewServer(plugintest.GrantHook(t, simple.ClientCredentials{Tokens: simple.Tokens{Audience: []string{"https://api.example.com"}}},
		plugintest.ClaimsHookOptions{BearerToken: "hook-token", HMACSecret: []byte("hook-secret")}))
	defer hook.Close()
	e := newEnv(t, func(c *config.Config) {
		c.Grants.ClientCredentials = config.GrantHandler{Handler: "webhook", URL: hook.URL, Token: "hook-token", HMACSecret: "hook-secret", Timeout: 2 * time.Second}
	})
	status, reg := e.registerClient(map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, id, sec)
	if st != 200 {
		t.Fatalf("token: %d %v", st, body)
	}
	if c := e.verifyAccessToken(body["access_token"].(string)); c["sub"] != id || c["aud"].([]any)[0] != "https://api.example.com" {
		t.Errorf("claims %v", c)
	}
	if st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"write"}}, id, sec); st != 400 || body["error"] != "invalid_scope" {
		t.Errorf("hook refusal: %d %v", st, body)
	}
	hook.Close()
	if st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, id, sec); st != 503 || body["error"] != "temporarily_unavailable" {
		t.Errorf("hook down: %d %v", st, body)
	}
}

// TestClientCredentialsC2IDProfile: a stateless client credentials token
// under the c2id-1.1 profile (cid, scp instead of client_id, scope) is
// recognised by introspection and the revocation journal like an RFC 9068
// one.
func TestClientCredentialsC2IDProfile(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Tokens.AccessTokenProfile = "c2id-1.1" })
	status, reg := e.registerClient(map[string]any{
		"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read write",
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	st, body, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, id, sec)
	if st != 200 {
		t.Fatalf("token: %d %v", st, body)
	}
	tok := body["access_token"].(string)
	c := e.verifyAccessToken(tok)
	if c["cid"] != id || c["client_id"] != nil || c["gid"] != nil {
		t.Errorf("claims %v, want cid and neither client_id nor gid", c)
	}
	st, in, _ := e.postForm("/token/introspect", url.Values{"token": {tok}}, id, sec)
	if st != 200 || in["active"] != true || in["client_id"] != id || in["scope"] != "read" {
		t.Errorf("introspection: %d %v", st, in)
	}
	if st, body, _ := e.postForm("/token/revoke", url.Values{"token": {tok}}, id, sec); st != 200 {
		t.Fatalf("revoke: %d %v", st, body)
	}
	if st, in, _ := e.postForm("/token/introspect", url.Values{"token": {tok}}, id, sec); st != 200 || in["active"] != false {
		t.Errorf("introspection after revocation: %d %v", st, in)
	}
}
