// Package testdpop is a DPoP client (RFC 9449) for tests: it holds a key
// pair and signs proofs with go-jose, including the malformed proofs the
// bad-input tests need.
package testdpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
)

// Client is a DPoP key holder.
type Client struct {
	t   testing.TB
	key *ecdsa.PrivateKey
	// Now dates the proofs; time.Now when nil.
	Now func() time.Time
	n   int
}

// New returns a client with a fresh P-256 key (ES256).
func New(t testing.TB) *Client {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{t: t, key: k}
}

// JKT is the base64url SHA-256 thumbprint of the public key.
func (c *Client) JKT() string {
	c.t.Helper()
	jwk := gojose.JSONWebKey{Key: c.key.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		c.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// Opts alter a proof; the zero value is a good proof.
type Opts struct {
	// AccessToken sets "ath".
	AccessToken string
	// Nonce sets "nonce".
	Nonce string
	// JTI replaces the fresh random "jti" (to replay one).
	JTI string
	// IAT replaces the issue time.
	IAT time.Time
	// Typ replaces "dpop+jwt".
	Typ string
	// PrivateJWK puts the private key in the "jwk" header.
	PrivateJWK bool
	// ATH replaces the computed "ath".
	ATH string
}

// Proof signs a proof for method and url.
func (c *Client) Proof(method, url string, o Opts) string {
	c.t.Helper()
	typ := o.Typ
	if typ == "" {
		typ = "dpop+jwt"
	}
	var jwk gojose.JSONWebKey
	if o.PrivateJWK {
		jwk = gojose.JSONWebKey{Key: c.key, Algorithm: "ES256"}
	} else {
		jwk = gojose.JSONWebKey{Key: c.key.Public(), Algorithm: "ES256"}
	}
	opts := (&gojose.SignerOptions{}).WithType(gojose.ContentType(typ)).WithHeader("jwk", jwk)
	s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: gojose.ES256, Key: c.key}, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	if !o.IAT.IsZero() {
		now = o.IAT
	}
	jti := o.JTI
	if jti == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			c.t.Fatal(err)
		}
		jti = base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{"jti": jti, "htm": method, "htu": url, "iat": now.Unix()}
	if o.AccessToken != "" {
		sum := sha256.Sum256([]byte(o.AccessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if o.ATH != "" {
		claims["ath"] = o.ATH
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	payload, err := jsonMarshal(claims)
	if err != nil {
		c.t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		c.t.Fatal(err)
	}
	v, err := jws.CompactSerialize()
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
