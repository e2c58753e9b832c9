package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

// The modules of the FAPI 2.0 Security Profile test plan
// (fapi2-security-profile-final-test-plan, names without that prefix) that
// Keyward's main branch can run: PAR, PKCE, private_key_jwt, the profile's
// refusals. The README's FAPI 2.0 table says which modules wait for DPoP
// (holder-of-key tokens) and signed request objects.

// newEnvWith is newEnv with configuration changes.
func newEnvWith(t *testing.T, configure ...func(*config.Config)) *env {
	t.Helper()
	t.Parallel()
	c := testclock.Wall()
	n := testnode.Start(t, server.Options{Now: c.Now}, configure...)
	return &env{t: t, issuer: n.Issuer, apiToken: n.Server.APIToken(), srv: n.Server, clock: c,
		http: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// fapi2Server is authz.profile fapi2 with the token algorithms it needs.
func fapi2Server(c *config.Config) {
	c.Authz.Profile = "fapi2"
	c.Tokens.IDTokenAlg = "ES256"
	c.Tokens.AccessTokenAlg = "ES256"
}

// fapiClient is a FAPI 2.0 client: private_key_jwt with an ES256 key.
type fapiClient struct {
	*client
	ec *jose.JSONWebKey
}

func newFAPIClient(e *env, extra map[string]any) *fapiClient {
	e.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	ec := &jose.JSONWebKey{Key: k, KeyID: randToken(e.t, 8), Algorithm: "ES256", Use: "sig"}
	rsaKey := newRSAKey(e.t)
	md := map[string]any{"jwks": publicJWKS(ec, rsaKey), "profile": "fapi2"}
	for k, v := range extra {
		md[k] = v
	}
	c := e.newClient("private_key_jwt", md)
	c.key = rsaKey
	return &fapiClient{client: c, ec: ec}
}

// assertion signs a client assertion with alg and the given audience
// (claims overrides the others; a nil value deletes).
func (c *fapiClient) assertion(alg jose.SignatureAlgorithm, aud any, claims map[string]any) string {
	t := c.e.t
	t.Helper()
	key := c.ec
	if alg == jose.RS256 || alg == jose.PS256 {
		key = c.key
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	now := c.e.clock.Now()
	cl := map[string]any{"iss": c.id, "sub": c.id, "aud": aud, "jti": randToken(t, 16),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
	}
	raw, err := jwt.Signed(signer).Claims(cl).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// authed adds a client assertion (ES256, aud the issuer, unless claims
// say otherwise) to form.
func (c *fapiClient) authed(form url.Values, alg jose.SignatureAlgorithm, claims map[string]any) url.Values {
	form = cloneValues(form)
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	aud := any(c.e.issuer)
	if a, ok := claims["aud"]; ok {
		aud = a
	}
	form.Set("client_assertion", c.assertion(alg, aud, claims))
	return form
}

// pkce returns a verifier and its S256 challenge.
func pkce(t *testing.T) (verifier, challenge string) {
	verifier = randToken(t, 32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// parQuery is the module's default pushed request: code flow with PKCE
// S256, state and nonce.
func (c *fapiClient) parQuery(challenge string) url.Values {
	q := c.authQuery()
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	return q
}

// push posts form to the PAR endpoint, authenticated.
func (c *fapiClient) push(form url.Values) *response {
	c.e.t.Helper()
	return c.e.postForm(c.e.issuer+"/par", c.authed(form, jose.ES256, nil), nil)
}

func TestFAPI2DiscoveryEndPointVerification(t *testing.T) {
	e := newEnvWith(t, fapi2Server)
	_, md := e.discovery()
	strs := func(k string) []string {
		var out []string
		for _, v := range asSlice(md[k]) {
			out = append(out, v.(string))
		}
		return out
	}
	if md["require_pushed_authorization_requests"] != true || md["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("require_pushed_authorization_requests %v, iss parameter %v; want both true",
			md["require_pushed_authorization_requests"], md["authorization_response_iss_parameter_supported"])
	}
	for k, want := range map[string][]string{
		"response_types_supported":              {"code"},
		"code_challenge_methods_supported":      {"S256"},
		"token_endpoint_auth_methods_supported": {"private_key_jwt"},
	} {
		if got := strs(k); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"token_endpoint_auth_signing_alg_values_supported", "id_token_signing_alg_values_supported"} {
		for _, alg := range strs(k) {
			if !slices.Contains([]string{"PS256", "ES256", "EdDSA"}, alg) {
				t.Errorf("%s lists %s", k, alg)
			}
		}
	}
}

// TestFAPI2Flow runs the profile end to end: PAR with private_key_jwt,
// the login through the session API, the code with iss, and the token
// endpoint with a DPoP proof (DPoP-bound tokens, a DPoP-bound refresh);
// without a proof the token request is refused
// (ensure-holder-of-key-required).
func TestFAPI2Flow(t *testing.T) {
	e := newEnvWith(t, fapi2Server)
	c := newFAPIClient(e, nil)
	other := newFAPIClient(e, nil)
	key := newDPoPKey(t)
	tokenURL := e.issuer + "/token"
	// code runs PAR and the login, and returns the code and its verifier.
	code := func() (string, string) {
		t.Helper()
		verifier, challenge := pkce(t)
		q := c.parQuery(challenge)
		r := c.push(q)
		if r.status != http.StatusCreated || !strings.HasPrefix(r.str("request_uri"), "urn:ietf:params:oauth:request_uri:") {
			t.Fatalf("PAR: %d %s", r.status, r.raw)
		}
		ar := e.authorize(url.Values{"client_id": {c.id}, "request_uri": {r.str("request_uri")}}.Encode(), "", alice)
		if ar.params == nil || ar.params.Get("code") == "" || ar.params.Get("state") != q.Get("state") || ar.params.Get("iss") != e.issuer {
			t.Fatalf("authorisation response %v, want code, state and iss", ar.final)
		}
		return ar.params.Get("code"), verifier
	}
	redeem := func(cl *fapiClient, code, verifier string, proof bool) *response {
		t.Helper()
		form := cl.authed(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {c.redirectURI}, "code_verifier": {verifier}}, jose.ES256, nil)
		return e.postForm(tokenURL, form, func(req *http.Request) {
			if proof {
				req.Header.Set("DPoP", key.proof(e, proofSpec{method: http.MethodPost, url: tokenURL}))
			}
		})
	}

	t.Run("ensure-holder-of-key-required", func(t *testing.T) {
		cd, v := code()
		tok := redeem(c, cd, v, false)
		wantError(t, tok, http.StatusBadRequest, "invalid_request")
		if !strings.Contains(tok.str("error_description"), "sender-constrained") {
			t.Errorf("refused for another reason: %s", tok.raw)
		}
	})
	t.Run("refresh-token", func(t *testing.T) {
		cd, v := code()
		tok := redeem(c, cd, v, true)
		wantTokenType(t, tok, "DPoP")
		if tok.str("id_token") == "" || tok.str("refresh_token") == "" {
			t.Fatalf("token response %s", tok.raw)
		}
		refresh := func(proof bool) *response {
			form := c.authed(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.str("refresh_token")}}, jose.ES256, nil)
			return e.postForm(tokenURL, form, func(req *http.Request) {
				if proof {
					req.Header.Set("DPoP", key.proof(e, proofSpec{method: http.MethodPost, url: tokenURL}))
				}
			})
		}
		wantError(t, refresh(false), http.StatusBadRequest, "invalid_request")
		r := refresh(true)
		wantTokenType(t, r, "DPoP")
		// No rotation under the profile (FAPI 2.0 §5.3.2.1).
		if r.str("refresh_token") != "" && r.str("refresh_token") != tok.str("refresh_token") {
			t.Errorf("the refresh token was rotated: %s", r.raw)
		}
	})
	t.Run("attempt-reuse-authorization-code-after-one-second", func(t *testing.T) {
		cd, v := code()
		wantTokenType(t, redeem(c, cd, v, true), "DPoP")
		e.clock.Advance(time.Second)
		wantError(t, redeem(c, cd, v, true), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ensure-authorization-code-is-bound-to-client", func(t *testing.T) {
		cd, v := code()
		wantError(t, redeem(other, cd, v, true), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("incorrect-pkce-code-verifier-rejected", func(t *testing.T) {
		cd, _ := code()
		wantError(t, redeem(c, cd, randToken(t, 32), true), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ensure-pkce-code-verifier-required", func(t *testing.T) {
		cd, _ := code()
		wantError(t, redeem(c, cd, "", true), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("ensure-client-assertion-in-token-endpoint", func(t *testing.T) {
		cd, v := code()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cd}, "redirect_uri": {c.redirectURI},
			"code_verifier": {v}, "client_id": {c.id}}
		r := e.postForm(tokenURL, form, func(req *http.Request) {
			req.Header.Set("DPoP", key.proof(e, proofSpec{method: http.MethodPost, url: tokenURL}))
		})
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("ensure-token-endpoint-fails-with-expired-auth-code", func(t *testing.T) {
		cd, v := code()
		e.clock.Advance(61 * time.Second)
		wantError(t, redeem(c, cd, v, true), http.StatusBadRequest, "invalid_grant")
	})
}

func TestFAPI2AuthorizationRequests(t *testing.T) {
	e := newEnvWith(t, fapi2Server)
	c := newFAPIClient(e, nil)
	_, challenge := pkce(t)
	// Requests that must succeed through PAR.
	for name, edit := range map[string]func(url.Values){
		"ensure-authorization-request-without-state-success": func(q url.Values) { q.Del("state") },
		"ensure-authorization-request-without-nonce-success": func(q url.Values) { q.Del("nonce") },
		"ensure-authorization-request-with-64-char-nonce-success": func(q url.Values) {
			q.Set("nonce", strings.Repeat("n", 64))
		},
		"ensure-authorization-request-with-long-nonce": func(q url.Values) { q.Set("nonce", strings.Repeat("n", 384)) },
		"ensure-authorization-request-with-long-state": func(q url.Values) { q.Set("state", strings.Repeat("s", 1000)) },
		"ensure-other-scope-order-succeeds":            func(q url.Values) { q.Set("scope", "email openid") },
	} {
		t.Run(name, func(t *testing.T) {
			q := c.parQuery(challenge)
			edit(q)
			r := c.push(q)
			if r.status != http.StatusCreated {
				t.Fatalf("PAR: %d %s", r.status, r.raw)
			}
			ar := e.authorize(url.Values{"client_id": {c.id}, "request_uri": {r.str("request_uri")}}.Encode(), "", alice)
			if ar.params.Get("code") == "" || ar.params.Get("state") != q.Get("state") || ar.params.Get("iss") != e.issuer {
				t.Fatalf("response %v", ar.params)
			}
		})
	}
	t.Run("user-rejects-authentication", func(t *testing.T) {
		r := c.push(c.parQuery(challenge))
		api := e.issuer + "/authz-sessions/rest/v3"
		m := e.postJSON(http.MethodPost, api, e.apiToken, map[string]any{
			"query": url.Values{"client_id": {c.id}, "request_uri": {r.str("request_uri")}}.Encode()})
		d := e.postJSON(http.MethodDelete, api+"/"+m.str("sid"), e.apiToken, map[string]any{})
		_, p := responseParams(t, d.body)
		if p.Get("error") != "access_denied" || p.Get("iss") != e.issuer {
			t.Fatalf("cancelled: %v", p)
		}
	})
	t.Run("ensure-unsigned-authorization-request-without-using-par-fails", func(t *testing.T) {
		q := c.parQuery(challenge)
		ar := e.authorize(q.Encode(), "", alice)
		if ar.params.Get("error") != "invalid_request" || ar.params.Get("code") != "" {
			t.Fatalf("unpushed request: %v", ar.final)
		}
	})
}

func TestFAPI2PARRefusals(t *testing.T) {
	e := newEnvWith(t, fapi2Server)
	c := newFAPIClient(e, nil)
	other := newFAPIClient(e, nil)
	_, challenge := pkce(t)
	for _, tc := range []struct {
		module string
		edit   func(url.Values)
		code   string
	}{
		{"par-ensure-pkce-required", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"par-plain-pkce-rejected", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		// The profile registers clients for code only (authzpolicy), so the
		// hybrid type is not the client's.
		{"ensure-response-type-code-idtoken-fails", func(q url.Values) { q.Set("response_type", "code id_token") }, "unauthorized_client"},
		{"ensure-response-type-token-fails", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"ensure-registered-redirect-uri", func(q url.Values) { q.Set("redirect_uri", "https://attacker.example/cb") }, "invalid_request"},
		{"par-authorization-request-containing-request_uri-form-param", func(q url.Values) {
			q.Set("request_uri", "urn:ietf:params:oauth:request_uri:abc")
		}, "invalid_request"},
		{"par-without-duplicate-parameters", func(q url.Values) { q.Add("state", "second") }, "invalid_request"},
		{"ensure-redirect-uri-in-authorization-request", func(q url.Values) { q.Del("redirect_uri") }, "invalid_request"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			q := c.parQuery(challenge)
			tc.edit(q)
			wantError(t, c.push(q), http.StatusBadRequest, tc.code)
		})
	}
	// Client authentication at the PAR endpoint.
	for _, tc := range []struct {
		module string
		alg    jose.SignatureAlgorithm
		claims map[string]any
	}{
		{"ensure-signed-client-assertion-with-RS256-fails", jose.RS256, nil},
		{"par-test-array-as-audience-fails", jose.ES256, map[string]any{"aud": []string{e.issuer}}},
		{"par-test-par-endpoint-url-as-audience-fails", jose.ES256, map[string]any{"aud": e.issuer + "/par"}},
		{"par-test-token-endpoint-url-as-audience-fails", jose.ES256, map[string]any{"aud": e.issuer + "/token"}},
		{"ensure-client-assertion-with-wrong-aud-fails", jose.ES256, map[string]any{"aud": "https://other.example.com"}},
		{"ensure-client-assertion-with-no-sub-fails", jose.ES256, map[string]any{"sub": nil}},
		{"ensure-client-assertion-with-exp-is-5-minutes-in-past-fails", jose.ES256, map[string]any{
			"exp": e.clock.Now().Add(-5 * time.Minute).Unix(), "iat": e.clock.Now().Add(-6 * time.Minute).Unix()}},
		{"par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails", jose.ES256, map[string]any{
			"nbf": e.clock.Now().Add(90 * time.Second).Unix(), "exp": e.clock.Now().Add(3 * time.Minute).Unix()}},
	} {
		t.Run(tc.module, func(t *testing.T) {
			r := e.postForm(e.issuer+"/par", c.authed(c.parQuery(challenge), tc.alg, tc.claims), nil)
			wantError(t, r, http.StatusUnauthorized, "invalid_client")
		})
	}
	t.Run("par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted", func(t *testing.T) {
		r := e.postForm(e.issuer+"/par", c.authed(c.parQuery(challenge), jose.ES256, map[string]any{
			"nbf": e.clock.Now().Add(8 * time.Second).Unix()}), nil)
		if r.status != http.StatusCreated {
			t.Fatalf("PAR: %d %s", r.status, r.raw)
		}
	})
	t.Run("par-attempt-invalid-http-method", func(t *testing.T) {
		if r := e.get(e.issuer+"/par", ""); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("GET /par: %d", r.status)
		}
	})
	useURI := func(t *testing.T, clientID, uri string) *authzResult {
		return e.authorize(url.Values{"client_id": {clientID}, "request_uri": {uri}}.Encode(), "", alice)
	}
	t.Run("par-ensure-reused-request-uri-prior-to-auth-completion-succeeds", func(t *testing.T) {
		// The browser loads the authorisation URL, then again (a reload)
		// before the user finishes: the second load completes the flow.
		uri := c.push(c.parQuery(challenge)).str("request_uri")
		api := e.issuer + "/authz-sessions/rest/v3"
		if r := e.postJSON(http.MethodPost, api, e.apiToken, map[string]any{"query": url.Values{"client_id": {c.id}, "request_uri": {uri}}.Encode()}); r.status != http.StatusOK || r.body["type"] != "auth" {
			t.Fatalf("first load: %d %s", r.status, r.raw)
		}
		if ar := useURI(t, c.id, uri); ar.params.Get("code") == "" {
			t.Fatalf("reload: %v", ar.final)
		}
	})
	t.Run("par-attempt-reuse-request_uri", func(t *testing.T) {
		uri := c.push(c.parQuery(challenge)).str("request_uri")
		if ar := useURI(t, c.id, uri); ar.params.Get("code") == "" {
			t.Fatalf("first use: %v", ar.final)
		}
		if ar := useURI(t, c.id, uri); ar.final["error"] != "invalid_request_uri" {
			t.Fatalf("second use: %v", ar.final)
		}
	})
	t.Run("par-attempt-to-use-request_uri-for-different-client", func(t *testing.T) {
		uri := c.push(c.parQuery(challenge)).str("request_uri")
		if ar := useURI(t, other.id, uri); ar.final["error"] != "invalid_request_uri" {
			t.Fatalf("other client: %v", ar.final)
		}
	})
	t.Run("par-attempt-to-use-expired-request_uri", func(t *testing.T) {
		uri := c.push(c.parQuery(challenge)).str("request_uri")
		e.clock.Advance(61 * time.Second)
		if ar := useURI(t, c.id, uri); ar.final["error"] != "invalid_request_uri" {
			t.Fatalf("expired: %v", ar.final)
		}
	})
}

// TestFAPI2Registration: under authz.profile fapi2 only clients the
// profile allows register.
func TestFAPI2Registration(t *testing.T) {
	e := newEnvWith(t, fapi2Server)
	for name, md := range map[string]map[string]any{
		"client_secret_basic": {"redirect_uris": []string{"https://rp.example.com/cb"}},
		"RS256 assertions": {"redirect_uris": []string{"https://rp.example.com/cb"}, "token_endpoint_auth_method": "private_key_jwt",
			"jwks": publicJWKS(newRSAKey(t)), "token_endpoint_auth_signing_alg": "RS256"},
	} {
		if r := e.register(md); r.status != http.StatusBadRequest || r.str("error") != "invalid_client_metadata" {
			t.Errorf("%s: %d %s, want 400 invalid_client_metadata", name, r.status, r.raw)
		}
	}
}
