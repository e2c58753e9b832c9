package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/jwksfetch"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	testClientID = "client-1"
	tokenURL     = "https://op.example/token"
	issuerURL    = "https://op.example"
)

var audiences = []string{tokenURL, issuerURL}

// clientKey is a client's key pair with its kid.
type clientKey struct {
	kid  string
	alg  gojose.SignatureAlgorithm
	priv crypto.Signer
}

func newClientKey(t testing.TB, alg gojose.SignatureAlgorithm, kid string) clientKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case gojose.RS256, gojose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case gojose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case gojose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return clientKey{kid: kid, alg: alg, priv: priv}
}

func jwksOf(t testing.TB, keys ...clientKey) []byte {
	t.Helper()
	set := gojose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, gojose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes a JWS of claims with key (a crypto.Signer or an HMAC secret).
func sign(t testing.TB, alg gojose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: alg, Key: gojose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func goodClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testClientID, "sub": testClientID, "aud": tokenURL,
		"jti": "jti-1", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
	}
}

func with(base map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestPrivateKeyJWTInlineJWKS(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rs := newClientKey(t, gojose.RS256, "rs")
	ps := clientKey{kid: "ps", alg: gojose.PS256, priv: rs.priv}
	es := newClientKey(t, gojose.ES256, "es")
	ed := newClientKey(t, gojose.EdDSA, "ed")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, rs, es, ed)}}
	ck := NewClientKeys(nil, clk.Now)
	algs := []string{"RS256", "PS256", "ES256", "EdDSA"}

	for _, k := range []clientKey{rs, ps, es, ed} {
		t.Run(string(k.alg), func(t *testing.T) {
			kid := k.kid
			if k.alg == gojose.PS256 {
				kid = "rs"
			}
			tok := sign(t, k.alg, k.priv, kid, goodClaims(now))
			got, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, algs, audiences)
			if err != nil {
				t.Fatal(err)
			}
			want := &AssertionClaims{
				Issuer: testClientID, Subject: testClientID, ID: "jti-1", Audience: []string{tokenURL},
				Expiry: now.Add(time.Minute), IssuedAt: now,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("no kid", func(t *testing.T) {
		tok := sign(t, gojose.ES256, es.priv, "", goodClaims(now))
		if _, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, algs, audiences); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("registered signing alg restricts", func(t *testing.T) {
		restricted := *client
		restricted.Metadata.TokenEndpointAuthSigningAlg = "ES256"
		tok := sign(t, gojose.RS256, rs.priv, "rs", goodClaims(now))
		if _, err := ck.VerifyAssertion(t.Context(), tok, &restricted, oauth.AuthMethodPrivateKeyJWT, nil, algs, audiences); err == nil {
			t.Error("RS256 accepted from a client registered for ES256")
		}
	})
}

// jwksServer serves a client's JWK set that the test can replace, and
// counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int32
}

func (s *jwksServer) set(body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.body)
}

func TestPrivateKeyJWTJWKSURI(t *testing.T) {
	clk := newClock()
	k1 := newClientKey(t, gojose.ES256, "k1")
	k2 := newClientKey(t, gojose.ES256, "k2")
	k3 := newClientKey(t, gojose.ES256, "k3")
	js := &jwksServer{body: jwksOf(t, k1)}
	srv := httptest.NewTLSServer(js)
	defer srv.Close()
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKSURI: srv.URL + "/jwks"}}
	ck := NewClientKeys(jwksfetch.New(srv.Client()), clk.Now)
	algs := []string{"ES256"}
	verify := func(k clientKey) error {
		tok := sign(t, k.alg, k.priv, k.kid, goodClaims(clk.Now()))
		_, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, algs, audiences)
		return err
	}
	expectFetches := func(want int32) {
		t.Helper()
		if got := js.fetches.Load(); got != want {
			t.Errorf("jwks_uri fetched %d times, want %d", got, want)
		}
	}

	if err := verify(k1); err != nil {
		t.Fatal(err)
	}
	if err := verify(k1); err != nil {
		t.Fatal(err)
	}
	expectFetches(1) // cached

	// The client rotates to k2. A set fetched under refetchInterval ago is
	// not re-fetched, so the unknown kid is refused for now.
	js.set(jwksOf(t, k2))
	clk.Advance(time.Second)
	if err := verify(k2); err == nil {
		t.Error("unknown kid accepted")
	}
	expectFetches(1)

	// Later, the unknown kid forces one re-fetch.
	clk.Advance(refetchInterval)
	if err := verify(k2); err != nil {
		t.Fatalf("after client key rotation: %v", err)
	}
	expectFetches(2)

	// Another unknown kid right away is refused without a fetch.
	js.set(jwksOf(t, k3))
	clk.Advance(time.Second)
	if err := verify(k3); err == nil {
		t.Error("unknown kid accepted")
	}
	expectFetches(2)

	clk.Advance(refetchInterval)
	if err := verify(k3); err != nil {
		t.Errorf("after the re-fetch interval: %v", err)
	}
	expectFetches(3)

	// The cache expires after CacheTTL.
	clk.Advance(ck.CacheTTL)
	if err := verify(k3); err != nil {
		t.Fatal(err)
	}
	expectFetches(4)

	// A known kid with a bad signature does not cause a fetch.
	forged := sign(t, gojose.ES256, k1.priv, "k3", goodClaims(clk.Now()))
	if _, err := ck.VerifyAssertion(t.Context(), forged, client, oauth.AuthMethodPrivateKeyJWT, nil, algs, audiences); err == nil {
		t.Error("forged signature accepted")
	}
	expectFetches(4)
}

func TestJWKSURIFailures(t *testing.T) {
	clk := newClock()
	k := newClientKey(t, gojose.ES256, "k")
	for _, tc := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"server error", nil, http.StatusInternalServerError},
		{"too large", append(jwksOf(t, k), make([]byte, 2048)...), 0},
		{"not JSON", []byte("<html>"), 0},
		{"private key published", func() []byte {
			b, _ := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{{Key: k.priv, KeyID: "k"}}})
			return b
		}(), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := &jwksServer{body: tc.body, status: tc.status}
			srv := httptest.NewServer(js)
			defer srv.Close()
			ck := NewClientKeys(jwksfetch.New(srv.Client()), clk.Now)
			ck.MaxBytes = 1024
			client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKSURI: srv.URL}}
			tok := sign(t, k.alg, k.priv, k.kid, goodClaims(clk.Now()))
			_, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, []string{"ES256"}, audiences)
			if err == nil {
				t.Fatal("assertion accepted")
			}
			t.Logf("rejected: %v", err)
		})
	}
}

func TestClientSecretJWT(t *testing.T) {
	clk := newClock()
	secret := []byte("0123456789abcdef0123456789abcdef0123456789a") // 43 bytes, like a generated secret
	client := &store.Client{ID: testClientID}
	ck := NewClientKeys(nil, clk.Now)
	algs := []string{"HS256", "RS256"}
	good := sign(t, gojose.HS256, secret, "", goodClaims(clk.Now()))
	got, err := ck.VerifyAssertion(t.Context(), good, client, oauth.AuthMethodClientSecretJWT, secret, algs, audiences)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "jti-1" {
		t.Errorf("jti = %q", got.ID)
	}
	wrong := []byte("another secret of enough length for HS256!!")
	if _, err := ck.VerifyAssertion(t.Context(), good, client, oauth.AuthMethodClientSecretJWT, wrong, algs, audiences); err == nil {
		t.Error("accepted with the wrong secret")
	}
	if _, err := ck.VerifyAssertion(t.Context(), good, client, oauth.AuthMethodClientSecretJWT, nil, algs, audiences); err == nil {
		t.Error("accepted without a secret")
	}
	// An HMAC assertion must not pass as private_key_jwt, nor an RSA one as client_secret_jwt.
	withKeys := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, newClientKey(t, gojose.ES256, "k"))}}
	if _, err := ck.VerifyAssertion(t.Context(), good, withKeys, oauth.AuthMethodPrivateKeyJWT, secret, algs, audiences); err == nil {
		t.Error("HS256 accepted for private_key_jwt")
	}
	rs := newClientKey(t, gojose.RS256, "rs")
	rsTok := sign(t, gojose.RS256, rs.priv, "rs", goodClaims(clk.Now()))
	if _, err := ck.VerifyAssertion(t.Context(), rsTok, client, oauth.AuthMethodClientSecretJWT, secret, algs, audiences); err == nil {
		t.Error("RS256 accepted for client_secret_jwt")
	}
	if _, err := ck.VerifyAssertion(t.Context(), good, client, oauth.AuthMethodClientSecretBasic, secret, algs, audiences); err == nil {
		t.Error("accepted for client_secret_basic")
	}
}

func TestAssertionClaimChecks(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newClientKey(t, gojose.ES256, "k")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, k)}}
	ck := NewClientKeys(nil, clk.Now)
	base := goodClaims(now)
	for _, tc := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"good", base, true},
		{"audience array with issuer", with(base, "aud", []string{"other", issuerURL}), true},
		{"expired within leeway", with(base, "exp", now.Add(-30*time.Second).Unix()), true},
		{"expired", with(base, "exp", now.Add(-2*time.Minute).Unix()), false},
		{"no exp", with(base, "exp", nil), false},
		{"wrong aud", with(base, "aud", "https://evil.example/token"), false},
		{"no aud", with(base, "aud", nil), false},
		{"wrong iss", with(base, "iss", "client-2"), false},
		{"wrong sub", with(base, "sub", "client-2"), false},
		{"iss and sub another client", with(base, "iss", "client-2", "sub", "client-2"), false},
		{"no jti", with(base, "jti", nil), false},
		{"empty jti", with(base, "jti", ""), false},
		{"nbf future", with(base, "nbf", now.Add(5*time.Minute).Unix()), false},
		{"nbf within leeway", with(base, "nbf", now.Add(30*time.Second).Unix()), true},
		{"iat future", with(base, "iat", now.Add(5*time.Minute).Unix()), false},
		{"exp not a number", with(base, "exp", "soon"), false},
		{"huge exp", with(base, "exp", 1e300), false},
		// The replay cache must outlive every assertion (CheckAssertionTimes).
		{"exp 24h ahead", with(base, "exp", now.Add(24*time.Hour).Unix()), false},
		{"exp max age ahead", with(base, "exp", now.Add(DefaultAssertionMaxAge).Unix()), true},
		{"exp max age and leeway ahead", with(base, "exp", now.Add(DefaultAssertionMaxAge+AssertionLeeway).Unix()), true},
		{"exp beyond max age and leeway", with(base, "exp", now.Add(DefaultAssertionMaxAge+AssertionLeeway+time.Second).Unix()), false},
		{"iat 24h old", with(base, "iat", now.Add(-24*time.Hour).Unix()), false},
		{"iat max age old", with(base, "iat", now.Add(-DefaultAssertionMaxAge).Unix()), true},
		{"iat beyond max age and leeway", with(base, "iat", now.Add(-DefaultAssertionMaxAge-AssertionLeeway-time.Second).Unix()), false},
		{"no iat", with(base, "iat", nil), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, k.alg, k.priv, k.kid, tc.claims)
			_, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, []string{"ES256"}, audiences)
			if tc.ok && err != nil {
				t.Errorf("rejected: %v", err)
			}
			if !tc.ok && err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestAssertionMaxAgeConfigurable: ClientKeys.MaxAge replaces the default
// bound on exp and iat.
func TestAssertionMaxAgeConfigurable(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k := newClientKey(t, gojose.ES256, "k")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, k)}}
	ck := NewClientKeys(nil, clk.Now)
	ck.MaxAge = time.Minute
	for _, tc := range []struct {
		name   string
		claims map[string]any
		ok     bool
	}{
		{"exp within", with(goodClaims(now), "exp", now.Add(2*time.Minute).Unix()), true},
		{"exp beyond", with(goodClaims(now), "exp", now.Add(3*time.Minute).Unix()), false},
		{"iat beyond", with(goodClaims(now), "iat", now.Add(-3*time.Minute).Unix()), false},
	} {
		tok := sign(t, k.alg, k.priv, k.kid, tc.claims)
		_, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, []string{"ES256"}, audiences)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestAssertionRejectsMalformed(t *testing.T) {
	clk := newClock()
	k := newClientKey(t, gojose.ES256, "k")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, k)}}
	noKeys := &store.Client{ID: testClientID}
	ck := NewClientKeys(nil, clk.Now)
	good := sign(t, k.alg, k.priv, k.kid, goodClaims(clk.Now()))
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	big := sign(t, k.alg, k.priv, k.kid, with(goodClaims(clk.Now()), "pad", strings.Repeat("x", maxAssertionSigningInput)))
	for _, tc := range []struct {
		name      string
		assertion string
		client    *store.Client
		algs      []string
	}{
		{"none", none, client, []string{"ES256", "none"}},
		{"alg not allowed", good, client, []string{"RS256"}},
		{"no algs", good, client, nil},
		{"oversized", big, client, []string{"ES256"}},
		{"client without keys", good, noKeys, []string{"ES256"}},
		{"nil client", good, nil, []string{"ES256"}},
		{"garbage", "a.b.c", client, []string{"ES256"}},
		{"JSON serialization", `{"payload":"e30","protected":"e30","signature":""}`, client, []string{"ES256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ck.VerifyAssertion(t.Context(), tc.assertion, tc.client, oauth.AuthMethodPrivateKeyJWT, nil, tc.algs, audiences)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("rejected: %v", err)
		})
	}
}

func TestUnverifiedClientID(t *testing.T) {
	clk := newClock()
	k := newClientKey(t, gojose.ES256, "k")
	for _, tc := range []struct {
		name      string
		assertion string
		want      string
		ok        bool
	}{
		{"good", sign(t, k.alg, k.priv, k.kid, goodClaims(clk.Now())), testClientID, true},
		{"hmac", sign(t, gojose.HS256, []byte(strings.Repeat("s", 32)), "", goodClaims(clk.Now())), testClientID, true},
		{"iss differs from sub", sign(t, k.alg, k.priv, k.kid, with(goodClaims(clk.Now()), "sub", "x")), "", false},
		{"no iss", sign(t, k.alg, k.priv, k.kid, with(goodClaims(clk.Now()), "iss", nil, "sub", nil)), "", false},
		{"garbage", "abc", "", false},
		{"none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"a","sub":"a"}`)) + ".", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := UnverifiedClientID(tc.assertion)
			if tc.ok != (err == nil) || got != tc.want {
				t.Errorf("UnverifiedClientID = %q, %v; want %q, ok=%v", got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	rs := newClientKey(t, gojose.RS256, "rs")
	es := newClientKey(t, gojose.ES256, "es")
	ed := newClientKey(t, gojose.EdDSA, "ed")
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	marshal := func(keys ...gojose.JSONWebKey) []byte {
		b, err := json.Marshal(gojose.JSONWebKeySet{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name    string
		raw     []byte
		strict  bool // ParseJWKS accepts
		lenient bool // the jwks_uri parser accepts
	}{
		{"three public keys", jwksOf(t, rs, es, ed), true, true},
		{"enc key alongside", marshal(pubJWK(es, "sig", ""), gojose.JSONWebKey{Key: rs.priv.Public(), KeyID: "enc", Use: "enc", Algorithm: "RSA-OAEP-256"}), true, true},
		{"private RSA key", marshal(gojose.JSONWebKey{Key: rs.priv, KeyID: "rs"}), false, false},
		{"private Ed25519 key", marshal(gojose.JSONWebKey{Key: ed.priv, KeyID: "ed"}), false, false},
		{"symmetric key", marshal(gojose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct"}), false, false},
		{"RSA 1024", marshal(gojose.JSONWebKey{Key: small.Public(), KeyID: "small"}), false, false},
		{"unknown kty with a good key", []byte(`{"keys":[{"kty":"XYZ","kid":"x"},` + string(keyJSON(t, pubJWK(es, "sig", ""))) + `]}`), false, true},
		{"X25519 only", []byte(`{"keys":[{"kty":"OKP","crv":"X25519","x":"AAAA"}]}`), false, false},
		{"alg none on key", marshal(pubJWK(es, "sig", "none")), false, false},
		{"HS256 alg on EC key", marshal(pubJWK(es, "sig", "HS256")), false, false},
		{"unknown use", marshal(pubJWK(es, "wrap", "")), false, false},
		{"empty set", []byte(`{"keys":[]}`), false, false},
		{"no keys member", []byte(`{}`), false, false},
		{"not JSON", []byte(`nope`), false, false},
		{"trailing data", append(jwksOf(t, es), []byte(`{}`)...), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseJWKS(tc.raw)
			if tc.strict != (err == nil) {
				t.Errorf("ParseJWKS err = %v, want ok=%v\n%s", err, tc.strict, tc.raw)
			}
			_, err = parseJWKS(tc.raw, true)
			if tc.lenient != (err == nil) {
				t.Errorf("lenient parse err = %v, want ok=%v", err, tc.lenient)
			}
		})
	}
	t.Run("too many keys", func(t *testing.T) {
		keys := make([]gojose.JSONWebKey, maxJWKSKeys+1)
		for i := range keys {
			keys[i] = gojose.JSONWebKey{Key: es.priv.Public(), KeyID: "es"}
		}
		if _, err := ParseJWKS(marshal(keys...)); err == nil {
			t.Error("accepted a set over the key limit")
		}
	})
}

func pubJWK(k clientKey, use, alg string) gojose.JSONWebKey {
	return gojose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: use, Algorithm: alg}
}

func keyJSON(t *testing.T, k gojose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzVerify(f *testing.F) {
	clk := newClock()
	m := newManager(f, &fakeKeyStore{}, clk, sealer(f, 1))
	k := newClientKey(f, gojose.ES256, "k")
	secret := []byte(strings.Repeat("s", 32))
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(f, k)}}
	ck := NewClientKeys(nil, clk.Now)
	ours, _ := m.Sign("ES256", "", testClaims{Sub: "a"})
	f.Add(ours)
	f.Add(sign(f, k.alg, k.priv, k.kid, goodClaims(clk.Now())))
	f.Add(sign(f, gojose.HS256, secret, "", goodClaims(clk.Now())))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Add(`{"payload":"e30"}`)
	all := []string{"RS256", "ES256", "EdDSA", "PS256", "HS256", "none"}
	f.Fuzz(func(t *testing.T, s string) {
		m.Verify(s, all)
		ck.VerifyAssertion(t.Context(), s, client, oauth.AuthMethodPrivateKeyJWT, nil, all, audiences)
		ck.VerifyAssertion(t.Context(), s, client, oauth.AuthMethodClientSecretJWT, secret, all, audiences)
		UnverifiedClientID(s)
		ParseJWKS([]byte(s))
	})
}

func TestJWKSURIUnknownKidFetchesOnceAndConcurrentUse(t *testing.T) {
	clk := newClock()
	k1 := newClientKey(t, gojose.EdDSA, "k1")
	stranger := newClientKey(t, gojose.EdDSA, "k2")
	js := &jwksServer{body: jwksOf(t, k1)}
	srv := httptest.NewServer(js)
	defer srv.Close()
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKSURI: srv.URL}}
	ck := NewClientKeys(jwksfetch.New(srv.Client()), clk.Now)

	tok := sign(t, stranger.alg, stranger.priv, stranger.kid, goodClaims(clk.Now()))
	if _, err := ck.VerifyAssertion(t.Context(), tok, client, oauth.AuthMethodPrivateKeyJWT, nil, []string{"EdDSA"}, audiences); err == nil {
		t.Fatal("unknown kid accepted")
	}
	if got := js.fetches.Load(); got != 1 {
		t.Errorf("first verification with an unknown kid fetched %d times, want 1", got)
	}

	good := sign(t, k1.alg, k1.priv, k1.kid, goodClaims(clk.Now()))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := ck.VerifyAssertion(t.Context(), good, client, oauth.AuthMethodPrivateKeyJWT, nil, []string{"EdDSA"}, audiences); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := js.fetches.Load(); got != 1 {
		t.Errorf("concurrent verifications fetched %d times in total, want 1", got)
	}
}
