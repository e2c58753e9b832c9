package jose

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/oauth"
)

// Algorithms the server signs with, in order of preference for discovery.
const (
	AlgRS256 = oauth.AlgRS256
	AlgES256 = oauth.AlgES256
	AlgEdDSA = oauth.AlgEdDSA
)

// defaultAlgorithms are the algorithms a fresh key set has one key for
// (oauth.SigningAlgs says why each).
var defaultAlgorithms = oauth.SigningAlgs()

// minRSABits is the smallest RSA modulus accepted anywhere (ours or a
// client's); 1024-bit keys are refused as Connect2id does since 17.0.
const minRSABits = 2048

// asymmetricAlgs are the public-key JWS algorithms accepted from clients
// (RFC 7518 §3.1, RFC 8037 §3.1).
var asymmetricAlgs = setOf(oauth.AsymmetricAlgs())

// hmacAlgs are the symmetric JWS algorithms (RFC 7518 §3.2).
var hmacAlgs = setOf(oauth.HMACAlgs())

func setOf(algs []string) map[string]bool {
	m := make(map[string]bool, len(algs))
	for _, a := range algs {
		m[a] = true
	}
	return m
}

// filterAlgs returns the entries of algs that allowed accepts, as go-jose
// values. Unknown names and "none" are dropped.
func filterAlgs(algs []string, allowed map[string]bool) []gojose.SignatureAlgorithm {
	out := make([]gojose.SignatureAlgorithm, 0, len(algs))
	for _, a := range algs {
		if allowed[a] {
			out = append(out, gojose.SignatureAlgorithm(a))
		}
	}
	return out
}

// keyFitsAlg reports whether a public key can verify alg. Checking this
// before verifying stops algorithm confusion, e.g. a PS256 header on a key
// registered for RS256, or an ES384 header against a P-256 key.
func keyFitsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return k.N != nil && k.N.BitLen() >= minRSABits
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}
