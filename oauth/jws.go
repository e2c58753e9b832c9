package oauth

// JWS algorithm names (RFC 7518 §3.1; EdDSA: RFC 8037 §3.1). Every list of
// algorithms in Keyward is built from these.
const (
	AlgRS256 = "RS256"
	AlgRS384 = "RS384"
	AlgRS512 = "RS512"
	AlgPS256 = "PS256"
	AlgPS384 = "PS384"
	AlgPS512 = "PS512"
	AlgES256 = "ES256"
	AlgES384 = "ES384"
	AlgES512 = "ES512"
	AlgEdDSA = "EdDSA"
	AlgHS256 = "HS256"
	AlgHS384 = "HS384"
	AlgHS512 = "HS512"
	// AlgNone is the unsecured JWS; Keyward never accepts it.
	AlgNone = "none"
)

// AsymmetricAlgs returns the public-key JWS algorithms Keyward verifies
// (client assertions, client-registered keys), in a fresh slice.
func AsymmetricAlgs() []string {
	return []string{AlgRS256, AlgRS384, AlgRS512, AlgPS256, AlgPS384, AlgPS512,
		AlgES256, AlgES384, AlgES512, AlgEdDSA}
}

// HMACAlgs returns the symmetric JWS algorithms, accepted only for
// client_secret_jwt (OIDC Core §9), in a fresh slice.
func HMACAlgs() []string { return []string{AlgHS256, AlgHS384, AlgHS512} }

// SigningAlgs returns the algorithms Keyward signs its own tokens with, one
// key each, in order of preference: RS256 (the ID token algorithm of a
// client that names none, OIDC Registration §2), ES256 (cheap to sign, the
// default for JWT access tokens) and EdDSA. A fresh slice.
func SigningAlgs() []string { return []string{AlgRS256, AlgES256, AlgEdDSA} }
