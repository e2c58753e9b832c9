// Package authzpolicy holds the security profile decisions that several
// endpoints share: which rules of the FAPI 2.0 Security Profile apply to a
// client, and what they allow. The endpoints (authz, token, clientreg) ask
// it rather than each keeping its own copy of the rules.
package authzpolicy

import (
	"slices"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// ProfileFAPI2 is the value of authz.profile and of the client metadata
// "profile" that selects the FAPI 2.0 Security Profile
// (https://openid.net/specs/fapi-security-profile-2_0-final.html).
const ProfileFAPI2 = "fapi2"

// Client authentication methods of RFC 8705 §2.1 and §2.2 that FAPI 2.0
// admits besides private_key_jwt.
const (
	AuthMethodTLSClientAuth           = oauth.AuthMethodTLSClientAuth
	AuthMethodSelfSignedTLSClientAuth = oauth.AuthMethodSelfSignedTLSClientAuth
)

// MaxCodeLifetimeFAPI2 is FAPI 2.0 §5.3.2.1's bound on the authorisation
// code lifetime ("shall ... not exceed 60 seconds").
const MaxCodeLifetimeFAPI2 = 60 * time.Second

// FAPI2Algs are the JWS algorithms FAPI 2.0 §5.4.1 allows: PS256, ES256 and
// EdDSA (Ed25519).
var FAPI2Algs = []string{oauth.AlgPS256, oauth.AlgES256, oauth.AlgEdDSA}

// FAPI2AuthMethods are the client authentication methods of FAPI 2.0
// §5.3.2.1: private_key_jwt or mutual TLS.
var FAPI2AuthMethods = []string{oauth.AuthMethodPrivateKeyJWT, AuthMethodTLSClientAuth, AuthMethodSelfSignedTLSClientAuth}

// ValidProfile reports whether p is a profile name Keyward knows; the empty
// string is the default (no profile).
func ValidProfile(p string) bool { return p == "" || p == ProfileFAPI2 }

// Policy is the profile in force for one client.
type Policy struct {
	// FAPI2 is set when the server (authz.profile) or the client (its
	// "profile" metadata) selects the FAPI 2.0 Security Profile.
	FAPI2 bool
}

// For returns the policy of client c under the server-wide profile server.
// A client can opt into FAPI 2.0 on a server that does not enforce it, but
// never out of it on a server that does.
func For(server string, c *store.Client) Policy {
	p := Policy{FAPI2: server == ProfileFAPI2}
	if c != nil && c.Metadata.Profile == ProfileFAPI2 {
		p.FAPI2 = true
	}
	return p
}

// AllowsAlg reports whether a JWS signed with alg may be accepted from, or
// issued to, the client.
func (p Policy) AllowsAlg(alg string) bool {
	return !p.FAPI2 || slices.Contains(FAPI2Algs, alg)
}

// AllowsAuthMethod reports whether the client may authenticate with method.
func (p Policy) AllowsAuthMethod(method string) bool {
	return !p.FAPI2 || slices.Contains(FAPI2AuthMethods, method)
}

// CodeLifetime caps the configured authorisation code lifetime d.
func (p Policy) CodeLifetime(d time.Duration) time.Duration {
	if p.FAPI2 && d > MaxCodeLifetimeFAPI2 {
		return MaxCodeLifetimeFAPI2
	}
	return d
}

// CheckAuthzRequest applies the profile to a validated authorisation
// request: FAPI 2.0 §5.3.2.2 admits only response_type code, only pushed
// requests (RFC 9126) with an explicit redirect_uri, and only PKCE with
// S256 (RFC 7636). Refusals are invalid_request (unsupported_response_type
// for the response type), as the profile's test plan expects.
func (p Policy) CheckAuthzRequest(pushed, hasRedirectURI bool, req *store.AuthzRequest) error {
	if !p.FAPI2 {
		return nil
	}
	if !pushed {
		return oauth.InvalidRequest("the FAPI 2.0 profile requires pushed authorisation requests (RFC 9126)")
	}
	if !hasRedirectURI {
		return oauth.InvalidRequest("the FAPI 2.0 profile requires the redirect_uri parameter")
	}
	if !slices.Equal(req.ResponseType, []string{oauth.ResponseTypeCode}) {
		return oauth.UnsupportedResponseType("the FAPI 2.0 profile allows only response_type code")
	}
	if req.CodeChallengeMethod != oauth.PKCEMethodS256 {
		return oauth.InvalidRequest("the FAPI 2.0 profile requires PKCE with code_challenge_method S256")
	}
	return nil
}

// CheckMetadata applies the profile to client registration metadata
// (RFC 7591): only the FAPI 2.0 authentication methods and signing
// algorithms, only the code flow, no plain PKCE. It fills in what the
// profile implies: pushed requests required, PKCE S256, and an ID token
// algorithm of the profile when none was registered (default from
// idTokenAlgs, the ones the server can sign with).
func (p Policy) CheckMetadata(md *store.ClientMetadata, idTokenAlgs []string) *oauth.Error {
	if !p.FAPI2 {
		return nil
	}
	if !slices.Contains(FAPI2AuthMethods, md.TokenEndpointAuthMethod) {
		return oauth.InvalidClientMetadata("the FAPI 2.0 profile requires token_endpoint_auth_method private_key_jwt, tls_client_auth or self_signed_tls_client_auth")
	}
	for _, f := range []struct{ name, value string }{
		{"token_endpoint_auth_signing_alg", md.TokenEndpointAuthSigningAlg},
		{"request_object_signing_alg", md.RequestObjectSigningAlg},
		{"id_token_signed_response_alg", md.IDTokenSignedResponseAlg},
		{"userinfo_signed_response_alg", md.UserInfoSignedResponseAlg},
	} {
		if f.value != "" && !slices.Contains(FAPI2Algs, f.value) {
			return oauth.InvalidClientMetadata("the FAPI 2.0 profile allows only PS256, ES256 and EdDSA for " + f.name)
		}
	}
	for _, rt := range md.ResponseTypes {
		if rt != oauth.ResponseTypeCode {
			return oauth.InvalidClientMetadata("the FAPI 2.0 profile allows only response_types code")
		}
	}
	if md.CodeChallengeMethod == oauth.PKCEMethodPlain {
		return oauth.InvalidClientMetadata("the FAPI 2.0 profile requires code_challenge_method S256")
	}
	if md.IDTokenSignedResponseAlg == "" {
		i := slices.IndexFunc(FAPI2Algs, func(a string) bool { return slices.Contains(idTokenAlgs, a) })
		if i < 0 {
			return oauth.InvalidClientMetadata("the FAPI 2.0 profile needs a PS256, ES256 or EdDSA signing key for ID tokens")
		}
		md.IDTokenSignedResponseAlg = FAPI2Algs[i]
	}
	md.RequirePushedAuthorizationRequests = true
	md.CodeChallengeMethod = oauth.PKCEMethodS256
	return nil
}

// AllowedResources are the resource indicators client c may request: the
// server's and the client's own.
func AllowedResources(server []string, c *store.Client) []string {
	return slices.Concat(server, c.Metadata.AllowedResources)
}

// AllowedAuthorizationDetailsTypes are the authorization_details types
// client c may request: the server's, narrowed to the client's registered
// authorization_details_types when it registered any (RFC 9396 §10).
func AllowedAuthorizationDetailsTypes(server []string, c *store.Client) []string {
	reg := c.Metadata.AuthorizationDetailsTypes
	if len(reg) == 0 {
		return server
	}
	var out []string
	for _, t := range server {
		if slices.Contains(reg, t) {
			out = append(out, t)
		}
	}
	return out
}
