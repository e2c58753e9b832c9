package oauth

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseClaimsRequest: the claims parameter comes from the client; any
// input parses or fails with invalid_request, never panics, and what
// parses gives purposes within bounds and verified names with the prefix.
func FuzzParseClaimsRequest(f *testing.F) {
	f.Add(`{"userinfo":{"email":{"essential":true,"purpose":"to mail you"}}}`)
	f.Add(`{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null}}}}`)
	f.Add(`{"userinfo":{"verified_claims":[{"claims":{"x":{"purpose":"abc"}}},{"claims":{}}]}}`)
	f.Add(`{"userinfo":{"verified_claims":[]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		cr, err := ParseClaimsRequest(s)
		if err != nil {
			if AsError(err) == nil || AsError(err).Code != ErrCodeInvalidRequest {
				t.Fatalf("error %v is not invalid_request", err)
			}
			return
		}
		for _, p := range cr.Purposes() {
			if !ValidPurpose(p) {
				t.Fatalf("purpose %q out of bounds", p)
			}
		}
		ess, vol := cr.VerifiedNames()
		for _, n := range slices.Concat(ess, vol) {
			if !strings.HasPrefix(n, VerifiedClaimPrefix) {
				t.Fatalf("verified name %q without prefix", n)
			}
		}
	})
}
