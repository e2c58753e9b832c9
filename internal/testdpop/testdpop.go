// Package testdpop is a DPoP client (RFC 9449) for tests: it holds an
// ES256 key pair and signs proofs, including the malformed proofs the
// bad-input tests need.
//
// It builds the JWS (RFC 7515 §7.1) and the JWK thumbprint (RFC 7638)
// with the standard library rather than go-jose, the library the server
// verifies with: only internal/jose may import go-jose (server's
// TestImportRules), and an independent client keeps the tests from
// sharing a bug with the code under test.
package testdpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"testing"
	"time"
)

// Client is a DPoP key holder.
type Client struct {
	t   testing.TB
	key *ecdsa.PrivateKey
	// Now dates the proofs; time.Now when nil.
	Now func() time.Time
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

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// coords returns the base64url X and Y of the public key and D.
func (c *Client) coords() (x, y, d string) {
	c.t.Helper()
	pub, err := c.key.PublicKey.ECDH()
	if err != nil {
		c.t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	priv, err := c.key.ECDH()
	if err != nil {
		c.t.Fatal(err)
	}
	return b64(raw[1:33]), b64(raw[33:65]), b64(priv.Bytes())
}

// JKT is the base64url SHA-256 JWK thumbprint of the public key: the
// hash of the required members in lexicographic order (RFC 7638 §3.2).
func (c *Client) JKT() string {
	x, y, _ := c.coords()
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`))
	return b64(sum[:])
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
	x, y, d := c.coords()
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}
	if o.PrivateJWK {
		jwk["d"] = d
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
		jti = b64(b)
	}
	claims := map[string]any{"jti": jti, "htm": method, "htu": url, "iat": now.Unix()}
	if o.AccessToken != "" {
		sum := sha256.Sum256([]byte(o.AccessToken))
		claims["ath"] = b64(sum[:])
	}
	if o.ATH != "" {
		claims["ath"] = o.ATH
	}
	if o.Nonce != "" {
		claims["nonce"] = o.Nonce
	}
	header, err := json.Marshal(map[string]any{"typ": typ, "alg": "ES256", "jwk": jwk})
	if err != nil {
		c.t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		c.t.Fatal(err)
	}
	input := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, c.key, sum[:])
	if err != nil {
		c.t.Fatal(err)
	}
	// RFC 7518 §3.4: R and S as 32-byte big-endian integers.
	sig := make([]byte, 64)
	fill(sig[:32], r)
	fill(sig[32:], s)
	return input + "." + b64(sig)
}

func fill(dst []byte, n *big.Int) { n.FillBytes(dst) }
