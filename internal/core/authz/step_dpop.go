package authz

import (
	"context"

	"github.com/keyward/keyward/oauth"
)

// stepDPoPJKT keeps dpop_jkt (RFC 9449 §10), the JWK SHA-256 thumbprint
// of the DPoP key the code will be redeemed with: 43 base64url characters.
// The token endpoint enforces it.
func stepDPoPJKT(_ context.Context, _ *Service, f *flow) error {
	jkt := f.params.Get("dpop_jkt")
	if jkt == "" {
		return nil
	}
	if !validJKT(jkt) {
		return oauth.InvalidRequest("malformed dpop_jkt")
	}
	f.req.DPoPJKT = jkt
	return nil
}

func validJKT(v string) bool {
	if len(v) != 43 {
		return false
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		switch {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}
