package jose

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/store"
)

// encryptTo encrypts plaintext as a client would: to the "use":"enc" key of
// our published JWK set with alg, A256GCM.
func encryptTo(t testing.TB, jwks []byte, alg string, plaintext string) string {
	t.Helper()
	var set gojose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Use != "enc" || k.Algorithm != alg {
			continue
		}
		enc, err := gojose.NewEncrypter(gojose.A256GCM,
			gojose.Recipient{Algorithm: gojose.KeyAlgorithm(alg), Key: k.Key, KeyID: k.KeyID},
			(&gojose.EncrypterOptions{}).WithContentType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte(plaintext))
		if err != nil {
			t.Fatal(err)
		}
		out, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("no %s encryption key in %s", alg, jwks)
	return ""
}

func requestClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testClientID, "aud": issuerURL, "exp": now.Add(time.Minute).Unix(), "iat": now.Unix(),
		"response_type": "code", "client_id": testClientID, "scope": "openid", "max_age": 60,
		"claims": map[string]any{"userinfo": map[string]any{"email": nil}},
	}
}

func TestVerifyRequestObject(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	m := newManager(t, &fakeKeyStore{}, clk, sealer(t, 1))
	es := newClientKey(t, gojose.ES256, "es")
	other := newClientKey(t, gojose.ES256, "other")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, es)}}
	ro := &RequestObjects{Keys: NewClientKeys(nil, clk.Now), Decrypter: m, Algs: []string{"ES256", "PS256"}}

	signed := sign(t, gojose.ES256, es.priv, "es", requestClaims(now))
	got, err := ro.VerifyRequestObject(t.Context(), signed, client, issuerURL)
	if err != nil {
		t.Fatalf("signed request object refused: %v", err)
	}
	for _, gone := range []string{"iss", "aud", "exp", "iat"} {
		if _, ok := got[gone]; ok {
			t.Errorf("JWT claim %s returned as a parameter", gone)
		}
	}
	if got["response_type"] != "code" || got["max_age"] != json.Number("60") {
		t.Errorf("parameters = %v", got)
	}

	for _, alg := range []string{AlgRSAOAEP256, AlgECDHES} {
		jwe := encryptTo(t, m.JWKS(), alg, signed)
		if _, err := ro.VerifyRequestObject(t.Context(), jwe, client, issuerURL); err != nil {
			t.Errorf("request object encrypted with %s refused: %v", alg, err)
		}
	}

	unsignedHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
	payload, _ := json.Marshal(requestClaims(now))
	unsigned := unsignedHeader + "." + base64.RawURLEncoding.EncodeToString(payload) + "."

	for name, tc := range map[string]struct {
		raw  string
		want string
	}{
		"alg none":            {unsigned, "alg none"},
		"encrypted unsigned":  {encryptTo(t, m.JWKS(), AlgECDHES, unsigned), "alg none"},
		"another client key":  {sign(t, gojose.ES256, other.priv, "es", requestClaims(now)), "does not verify"},
		"another client iss":  {sign(t, gojose.ES256, es.priv, "es", with(requestClaims(now), "iss", "client-2")), "iss"},
		"wrong audience":      {sign(t, gojose.ES256, es.priv, "es", with(requestClaims(now), "aud", "https://evil.example")), "aud"},
		"expired":             {sign(t, gojose.ES256, es.priv, "es", with(requestClaims(now), "exp", now.Add(-5*time.Minute).Unix())), "expired"},
		"no exp":              {sign(t, gojose.ES256, es.priv, "es", with(requestClaims(now), "exp", nil)), "no exp"},
		"too long lived":      {sign(t, gojose.ES256, es.priv, "es", with(requestClaims(now), "exp", now.Add(time.Hour).Unix())), "ahead"},
		"HMAC":                {sign(t, gojose.HS256, []byte(strings.Repeat("k", 32)), "", requestClaims(now)), "algorithm"},
		"garbage":             {"a.b.c", ""},
		"encrypted garbage":   {"a.b.c.d.e", "decrypt"},
		"oversized":           {strings.Repeat("a", MaxRequestObjectBytes+1), "larger"},
		"encrypted to nobody": {"eyJhbGciOiJSU0EtT0FFUC0yNTYiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoieCJ9.a.b.c.d", "decrypt"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ro.VerifyRequestObject(t.Context(), tc.raw, client, issuerURL)
			if !errors.Is(err, ErrRequestObject) {
				t.Fatalf("err = %v, want ErrRequestObject", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}

	t.Run("registered alg only", func(t *testing.T) {
		rs := newClientKey(t, gojose.PS256, "rs")
		c := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(t, es, rs), RequestObjectSigningAlg: "PS256"}}
		if _, err := ro.VerifyRequestObject(t.Context(), signed, c, issuerURL); !errors.Is(err, ErrRequestObject) {
			t.Errorf("ES256 object accepted from a client registered for PS256: %v", err)
		}
		ps := sign(t, gojose.PS256, rs.priv, "rs", requestClaims(now))
		if _, err := ro.VerifyRequestObject(t.Context(), ps, c, issuerURL); err != nil {
			t.Errorf("PS256 object refused: %v", err)
		}
	})
}

func TestDecryptRefusesSigningKeysAndOtherAlgs(t *testing.T) {
	m := newManager(t, &fakeKeyStore{}, newClock(), sealer(t, 1))
	jwe := encryptTo(t, m.JWKS(), AlgRSAOAEP256, "hello")
	if _, err := m.Decrypt(jwe, []string{AlgECDHES}, RequestObjectEncs); err == nil {
		t.Error("decrypted a JWE whose alg is not allowed")
	}
	if got, err := m.Decrypt(jwe, RequestObjectEncAlgs, RequestObjectEncs); err != nil || string(got) != "hello" {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
	if _, err := m.Sign(AlgRSAOAEP256, "", testClaims{}); err == nil {
		t.Error("an encryption key signed")
	}
	// After a rotation the retired encryption key still decrypts.
	if err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Decrypt(jwe, RequestObjectEncAlgs, RequestObjectEncs); err != nil || string(got) != "hello" {
		t.Errorf("after rotation Decrypt = %q, %v", got, err)
	}
}

// BenchmarkVerifyRequestObject measures the cost one request object adds to
// an authorisation request: ES256 signed, plain and encrypted to each of
// our encryption keys.
func BenchmarkVerifyRequestObject(b *testing.B) {
	clk := newClock()
	m := newManager(b, &fakeKeyStore{}, clk, sealer(b, 1))
	es := newClientKey(b, gojose.ES256, "es")
	client := &store.Client{ID: testClientID, Metadata: store.ClientMetadata{JWKS: jwksOf(b, es)}}
	ro := &RequestObjects{Keys: NewClientKeys(nil, clk.Now), Decrypter: m, Algs: []string{"ES256"}}
	signed := sign(b, gojose.ES256, es.priv, "es", requestClaims(clk.Now()))
	for name, raw := range map[string]string{
		"signed":       signed,
		"RSA-OAEP-256": encryptTo(b, m.JWKS(), AlgRSAOAEP256, signed),
		"ECDH-ES":      encryptTo(b, m.JWKS(), AlgECDHES, signed),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ro.VerifyRequestObject(b.Context(), raw, client, issuerURL); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
