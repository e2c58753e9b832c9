package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The DPoP modules of the FAPI 2.0 Security Profile test plan
// (fapi2-security-profile-final-*, RFC 9449), against a real node. The
// DPoP client is written here with go-jose, as a relying party would.

// dpopKey is a client's DPoP key pair.
type dpopKey struct {
	t   *testing.T
	key any // *ecdsa.PrivateKey or *rsa.PrivateKey
	alg jose.SignatureAlgorithm
}

func newDPoPKey(t *testing.T) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{t: t, key: k, alg: jose.ES256}
}

func (k *dpopKey) public() jose.JSONWebKey {
	jwk := jose.JSONWebKey{Key: k.key, Algorithm: string(k.alg)}
	return jwk.Public()
}

// jkt is the RFC 7638 thumbprint of the public key.
func (k *dpopKey) jkt() string {
	k.t.Helper()
	pub := k.public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		k.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proofSpec varies a proof; the zero value (with method and url) is good.
type proofSpec struct {
	method, url string
	accessToken string
	iat         time.Time
	// claims edits the payload, header the protected header before
	// signing ("typ", "jwk" may be deleted or replaced).
	claims func(map[string]any)
	header func(map[string]any)
}

// proof signs a DPoP proof JWT with go-jose.
func (k *dpopKey) proof(e *env, p proofSpec) string {
	k.t.Helper()
	iat := p.iat
	if iat.IsZero() {
		iat = e.clock.Now()
	}
	claims := map[string]any{"jti": randToken(k.t, 16), "htm": p.method, "htu": p.url, "iat": iat.Unix()}
	if p.accessToken != "" {
		sum := sha256.Sum256([]byte(p.accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if p.claims != nil {
		p.claims(claims)
	}
	header := map[string]any{"typ": "dpop+jwt", "jwk": k.public()}
	if p.header != nil {
		p.header(header)
	}
	opts := &jose.SignerOptions{}
	for name, v := range header {
		opts = opts.WithHeader(jose.HeaderKey(name), v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		k.t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// dpopClient registers a private_key_jwt client (the FAPI 2.0 client
// authentication) that must send DPoP proofs.
func dpopClient(e *env) *client {
	return e.newClient("private_key_jwt", map[string]any{"dpop_bound_access_tokens": true})
}

// dpopCode runs the authorisation for c with extra request parameters.
func dpopCode(e *env, c *client, extra url.Values) string {
	e.t.Helper()
	q := c.authQuery()
	for k, v := range extra {
		q[k] = v
	}
	ar := e.authorize(q.Encode(), "", alice)
	if ar.params.Get("code") == "" {
		e.t.Fatalf("no code: %v", ar.final)
	}
	return ar.params.Get("code")
}

// redeemWithProof redeems a code with DPoP headers.
func redeemWithProof(c *client, code string, proofs ...string) *response {
	c.e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirectURI},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {c.assertion(c.key, c.e.issuer+"/token")}}
	return c.e.postForm(c.e.issuer+"/token", form, func(req *http.Request) {
		for _, p := range proofs {
			req.Header.Add("DPoP", p)
		}
	})
}

func wantTokenType(t *testing.T, r *response, want string) {
	t.Helper()
	if r.status != http.StatusOK || r.str("token_type") != want {
		t.Fatalf("token response %d %s, want 200 with token_type %s", r.status, r.raw, want)
	}
}

func wantError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	if r.status != status || r.str("error") != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

// fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-before-succeeds
// and …-after-succeeds: clock skew either way is tolerated.
func TestFAPI2EnsureDPoPProofWithIat10Seconds(t *testing.T) {
	e := newEnv(t)
	c := dpopClient(e)
	key := newDPoPKey(t)
	for _, skew := range []time.Duration{-10 * time.Second, 10 * time.Second} {
		code := dpopCode(e, c, nil)
		r := redeemWithProof(c, code, key.proof(e, proofSpec{method: "POST", url: e.issuer + "/token", iat: e.clock.Now().Add(skew)}))
		wantTokenType(t, r, "DPoP")
	}
}

// fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails: the code
// of a request with dpop_jkt cannot be redeemed with another key.
func TestFAPI2EnsureMismatchedDPoPJKTFails(t *testing.T) {
	e := newEnv(t)
	c := dpopClient(e)
	key, other := newDPoPKey(t), newDPoPKey(t)
	code := dpopCode(e, c, url.Values{"dpop_jkt": {key.jkt()}})
	r := redeemWithProof(c, code, other.proof(e, proofSpec{method: "POST", url: e.issuer + "/token"}))
	wantError(t, r, 400, "invalid_dpop_proof")
}

// fapi2-security-profile-final-ensure-dpop-auth-code-binding-success.
func TestFAPI2EnsureDPoPAuthCodeBindingSuccess(t *testing.T) {
	e := newEnv(t)
	c := dpopClient(e)
	key := newDPoPKey(t)
	code := dpopCode(e, c, url.Values{"dpop_jkt": {key.jkt()}})
	r := redeemWithProof(c, code, key.proof(e, proofSpec{method: "POST", url: e.issuer + "/token"}))
	wantTokenType(t, r, "DPoP")
	at := r.str("access_token")
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "DPoP "+at)
	req.Header.Set("DPoP", key.proof(e, proofSpec{method: "GET", url: e.issuer + "/userinfo", accessToken: at}))
	if ui := e.do(req); ui.status != 200 || ui.str("sub") == "" {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}
}

// fapi2-security-profile-final-ensure-dpopproof-at-par-endpoint-binding-success:
// a proof at PAR binds the code to its key.
func TestFAPI2EnsureDPoPProofAtPAREndpointBindingSuccess(t *testing.T) {
	e := newEnv(t)
	c := dpopClient(e)
	key, other := newDPoPKey(t), newDPoPKey(t)
	push := func() string {
		t.Helper()
		form := c.authQuery()
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", c.assertion(c.key, e.issuer))
		r := e.postForm(e.issuer+"/par", form, func(req *http.Request) {
			req.Header.Set("DPoP", key.proof(e, proofSpec{method: "POST", url: e.issuer + "/par"}))
		})
		if r.status != http.StatusCreated {
			t.Fatalf("PAR: %d %s", r.status, r.raw)
		}
		ar := e.authorize(url.Values{"client_id": {c.id}, "request_uri": {r.str("request_uri")}}.Encode(), "", alice)
		return ar.params.Get("code")
	}
	r := redeemWithProof(c, push(), other.proof(e, proofSpec{method: "POST", url: e.issuer + "/token"}))
	wantError(t, r, 400, "invalid_dpop_proof")
	r = redeemWithProof(c, push(), key.proof(e, proofSpec{method: "POST", url: e.issuer + "/token"}))
	wantTokenType(t, r, "DPoP")
}

// fapi2-security-profile-final-dpop-negative-tests: every malformed proof
// is refused at the token endpoint (400 invalid_dpop_proof) and at
// UserInfo (401 invalid_dpop_proof); a proof whose htu carries a query
// and fragment is fine.
func TestFAPI2DPoPNegativeTests(t *testing.T) {
	e := newEnv(t)
	c := dpopClient(e)
	key := newDPoPKey(t)
	tokenURL, userinfoURL := e.issuer+"/token", e.issuer+"/userinfo"
	r := redeemWithProof(c, dpopCode(e, c, nil), key.proof(e, proofSpec{method: "POST", url: tokenURL, claims: func(m map[string]any) {
		m["htu"] = tokenURL + "?x=1#frag"
	}}))
	wantTokenType(t, r, "DPoP")
	at := r.str("access_token")

	rsaKey := &dpopKey{t: t, key: newRSAKey(t).Key, alg: jose.RS256}
	del := func(name string) func(map[string]any) { return func(m map[string]any) { delete(m, name) } }
	set := func(name string, v any) func(map[string]any) { return func(m map[string]any) { m[name] = v } }
	priv := jose.JSONWebKey{Key: key.key, Algorithm: "ES256"}
	cases := []struct {
		name  string
		proof func(method, u string) string
	}{
		{"malformed JWT", func(string, string) string { return "not.a.jwt" }},
		{"missing typ", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, header: del("typ")})
		}},
		{"bad typ", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, header: set("typ", "JWT")})
		}},
		{"missing jwk", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, header: del("jwk")})
		}},
		{"private key in jwk", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, header: set("jwk", priv)})
		}},
		{"missing jti", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, claims: del("jti")})
		}},
		{"missing htm", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, claims: del("htm")})
		}},
		{"missing htu", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, claims: del("htu")})
		}},
		{"missing iat", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, claims: del("iat")})
		}},
		{"wrong htm", func(_, u string) string { return key.proof(e, proofSpec{method: "PUT", url: u, accessToken: at}) }},
		{"different htu", func(m, _ string) string {
			return key.proof(e, proofSpec{method: m, url: e.issuer + "/other", accessToken: at})
		}},
		{"iat an hour ago", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, iat: e.clock.Now().Add(-time.Hour)})
		}},
		{"iat an hour ahead", func(m, u string) string {
			return key.proof(e, proofSpec{method: m, url: u, accessToken: at, iat: e.clock.Now().Add(time.Hour)})
		}},
		{"RS256 proof", func(m, u string) string { return rsaKey.proof(e, proofSpec{method: m, url: u, accessToken: at}) }},
		{"alg none", func(m, u string) string {
			good := key.proof(e, proofSpec{method: m, url: u, accessToken: at})
			h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": key.public()})
			parts := strings.Split(good, ".")
			return base64.RawURLEncoding.EncodeToString(h) + "." + parts[1] + "."
		}},
		{"bad signature", func(m, u string) string {
			good := key.proof(e, proofSpec{method: m, url: u, accessToken: at})
			parts := strings.Split(good, ".")
			other := key.proof(e, proofSpec{method: m, url: u, accessToken: at})
			return parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2]
		}},
	}
	t.Run("bound token as Bearer", func(t *testing.T) {
		wantError(t, e.userinfo(http.MethodGet, at), 401, "invalid_token")
	})
	t.Run("upper-case scheme", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, userinfoURL, nil)
		req.Header.Set("Authorization", "DPOP "+at)
		req.Header.Set("DPoP", key.proof(e, proofSpec{method: "GET", url: userinfoURL, accessToken: at}))
		if r := e.do(req); r.status != 200 {
			t.Fatalf("upper-case DPoP scheme: %d %s", r.status, r.raw)
		}
	})
	t.Run("userinfo/missing ath", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, userinfoURL, nil)
		req.Header.Set("Authorization", "DPoP "+at)
		req.Header.Set("DPoP", key.proof(e, proofSpec{method: "GET", url: userinfoURL}))
		wantError(t, e.do(req), 401, "invalid_dpop_proof")
	})
	// UserInfo first: every new authorisation below starts a subject
	// session, and past sessions.quota_per_subject the oldest is ended,
	// revoking the token under test.
	for _, tc := range cases {
		t.Run("userinfo/"+tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, userinfoURL, nil)
			req.Header.Set("Authorization", "DPoP "+at)
			req.Header.Set("DPoP", tc.proof("GET", userinfoURL))
			wantError(t, e.do(req), 401, "invalid_dpop_proof")
		})
	}
	for _, tc := range cases {
		t.Run("token endpoint/"+tc.name, func(t *testing.T) {
			r := redeemWithProof(c, dpopCode(e, c, nil), tc.proof("POST", tokenURL))
			wantError(t, r, 400, "invalid_dpop_proof")
		})
	}
	t.Run("two DPoP headers", func(t *testing.T) {
		r := redeemWithProof(c, dpopCode(e, c, nil), key.proof(e, proofSpec{method: "POST", url: tokenURL}),
			key.proof(e, proofSpec{method: "POST", url: tokenURL}))
		wantError(t, r, 400, "invalid_dpop_proof")
	})
}
