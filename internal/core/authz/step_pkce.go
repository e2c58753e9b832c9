package authz

import (
	"context"
	"slices"

	"github.com/keyward/keyward/oauth"
)

// stepPKCE validates the code challenge (RFC 7636 §4.3, §4.4.1): S256, or
// plain when allowed; required for public clients (RFC 9700 §2.1.1) and
// when the client registered a code_challenge_method, which then must be
// used.
func stepPKCE(_ context.Context, s *Service, f *flow) error {
	challenge := f.params.Get("code_challenge")
	method := f.params.Get("code_challenge_method")
	forced := f.client.Metadata.CodeChallengeMethod
	if !slices.Contains(f.req.ResponseType, oauth.ResponseTypeCode) {
		// No code, nothing to bind a verifier to (implicit flow).
		if challenge != "" || method != "" {
			return oauth.InvalidRequest("code_challenge applies only to a response_type with code")
		}
		return nil
	}
	if challenge == "" {
		switch {
		case method != "":
			return oauth.InvalidRequest("code_challenge_method without code_challenge")
		case isPublic(f.client):
			return oauth.InvalidRequest("public clients must use PKCE (code_challenge)")
		case forced != "":
			return oauth.InvalidRequest("the client must use PKCE (code_challenge)")
		}
		return nil
	}
	if method == "" {
		method = oauth.PKCEMethodPlain // RFC 7636 §4.3
	}
	switch method {
	case oauth.PKCEMethodS256:
	case oauth.PKCEMethodPlain:
		if !s.Config.AllowPlainPKCE && forced != oauth.PKCEMethodPlain {
			return oauth.InvalidRequest("code_challenge_method plain is not allowed; use S256")
		}
	default:
		return oauth.InvalidRequest("unsupported code_challenge_method")
	}
	if forced != "" && method != forced {
		return oauth.InvalidRequest("the client must use code_challenge_method " + forced)
	}
	if !validChallenge(challenge) {
		return oauth.InvalidRequest("malformed code_challenge")
	}
	f.req.CodeChallenge = challenge
	f.req.CodeChallengeMethod = method
	return nil
}

// validChallenge checks 43–128 characters of ALPHA / DIGIT / "-" / "." /
// "_" / "~" (RFC 7636 §4.1, §4.2).
func validChallenge(c string) bool {
	if len(c) < 43 || len(c) > 128 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9',
			b == '-', b == '.', b == '_', b == '~':
		default:
			return false
		}
	}
	return true
}
