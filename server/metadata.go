package server

import (
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/node"
	"github.com/keyward/keyward/oauth"
)

// metadata builds the discovery document from what this node implements;
// every advertised value must work.
func (s *Server) metadata(issuer string, idAlgs []string) *httpapi.ProviderMetadata {
	pkce := []string{oauth.PKCEMethodS256}
	if s.cfg.Authz.AllowPlainPKCE {
		pkce = append(pkce, oauth.PKCEMethodPlain)
	}
	m := &httpapi.ProviderMetadata{
		Issuer:                             issuer,
		AuthorizationEndpoint:              s.cfg.AuthorizationEndpoint(),
		TokenEndpoint:                      issuer + "/token",
		UserInfoEndpoint:                   issuer + "/userinfo",
		JWKSURI:                            issuer + "/jwks.json",
		RegistrationEndpoint:               issuer + "/clients",
		PushedAuthorizationRequestEndpoint: issuer + "/par",
		IntrospectionEndpoint:              issuer + "/token/introspect",
		RevocationEndpoint:                 issuer + "/token/revoke",
		ScopesSupported: []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeEmail,
			oauth.ScopeAddress, oauth.ScopePhone, oauth.ScopeOfflineAccess},
		ResponseTypesSupported:            node.ResponseTypeStrings(s.cfg),
		ResponseModesSupported:            append([]string{oauth.ResponseModeQuery, oauth.ResponseModeFragment, oauth.ResponseModeFormPost}, oauth.JARMResponseModes()...),
		GrantTypesSupported:               node.GrantTypesFor(s.cfg),
		ACRValuesSupported:                s.cfg.Authz.ACRValues,
		SubjectTypesSupported:             []string{"public", "pairwise"},
		IDTokenSigningAlgValuesSupported:  idAlgs,
		TokenEndpointAuthMethodsSupported: node.AuthMethodsFor(s.cfg),
		// HS384 and HS512 are accepted too, but need longer secrets than the
		// 256-bit ones the server generates, so only HS256 is advertised.
		TokenEndpointAuthSigningAlgValuesSupported: append(oauth.AsymmetricAlgs(), oauth.AlgHS256),
		// Both endpoints authenticate clients as the token endpoint does;
		// introspection also takes a bearer token (api_tokens.introspection).
		IntrospectionEndpointAuthMethodsSupported: node.AuthMethodsFor(s.cfg),
		RevocationEndpointAuthMethodsSupported:    node.AuthMethodsFor(s.cfg),
		IntrospectionSigningAlgValuesSupported:    []string{s.introspectionAlg()},
		DisplayValuesSupported:                    []string{oauth.DisplayPage, oauth.DisplayPopup, oauth.DisplayTouch, oauth.DisplayWAP},
		ClaimsSupported:                           s.claimsSupported(),
		ClaimsParameterSupported:                  true,
		RequestParameterSupported:                 true,
		RequestURIParameterSupported:              true,
		CodeChallengeMethodsSupported:             pkce,
		PromptValuesSupported: []string{oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent,
			oauth.PromptSelectAccount, oauth.PromptCreate},
		AuthorizationResponseIssParameterSupported: true,
		EndSessionEndpoint:                         s.cfg.EndSessionEndpoint(),
		// Logout tokens always carry sid, and front-channel URIs always get
		// iss and sid (docs/api.md §16).
		BackchannelLogoutSupported:         true,
		BackchannelLogoutSessionSupported:  true,
		FrontchannelLogoutSupported:        true,
		FrontchannelLogoutSessionSupported: true,

		// Request objects (docs/api.md §21): signed with the client's keys,
		// optionally encrypted to our "use":"enc" keys; by reference only
		// from registered request_uris. JWT responses are signed with the
		// keys we have.
		RequireRequestURIRegistration:             true,
		RequireSignedRequestObject:                s.cfg.Authz.RequireSignedRequestObject,
		RequestObjectSigningAlgValuesSupported:    oauth.AsymmetricAlgs(),
		RequestObjectEncryptionAlgValuesSupported: jose.RequestObjectEncAlgs,
		RequestObjectEncryptionEncValuesSupported: jose.RequestObjectEncs,
		AuthorizationSigningAlgValuesSupported:    idAlgs,

		AuthorizationDetailsTypesSupported: s.cfg.Authz.AuthorizationDetailsTypes,
	}
	senderMetadata(s.cfg, m)
	if s.cfg.Authz.Profile == authzpolicy.ProfileFAPI2 {
		fapi2Metadata(m)
	}
	return m
}

// fapi2Metadata narrows the document to what the FAPI 2.0 profile lets
// every client use (authzpolicy): pushed requests only, the code flow,
// private_key_jwt and the mTLS methods, and the
// PS256, ES256 and EdDSA algorithms.
func fapi2Metadata(m *httpapi.ProviderMetadata) {
	keep := func(vs, allowed []string) []string {
		var out []string
		for _, v := range vs {
			if slices.Contains(allowed, v) {
				out = append(out, v)
			}
		}
		return out
	}
	m.RequirePushedAuthorizationRequests = true
	m.ResponseTypesSupported = keep(m.ResponseTypesSupported, []string{oauth.ResponseTypeCode})
	m.GrantTypesSupported = keep(m.GrantTypesSupported, []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken, oauth.GrantTypeClientCredentials})
	m.TokenEndpointAuthMethodsSupported = keep(m.TokenEndpointAuthMethodsSupported, authzpolicy.FAPI2AuthMethods)
	m.IntrospectionEndpointAuthMethodsSupported = keep(m.IntrospectionEndpointAuthMethodsSupported, authzpolicy.FAPI2AuthMethods)
	m.RevocationEndpointAuthMethodsSupported = keep(m.RevocationEndpointAuthMethodsSupported, authzpolicy.FAPI2AuthMethods)
	m.TokenEndpointAuthSigningAlgValuesSupported = keep(m.TokenEndpointAuthSigningAlgValuesSupported, authzpolicy.FAPI2Algs)
	m.IDTokenSigningAlgValuesSupported = keep(m.IDTokenSigningAlgValuesSupported, authzpolicy.FAPI2Algs)
	m.IntrospectionSigningAlgValuesSupported = keep(m.IntrospectionSigningAlgValuesSupported, authzpolicy.FAPI2Algs)
	m.DPoPSigningAlgValuesSupported = keep(m.DPoPSigningAlgValuesSupported, authzpolicy.FAPI2Algs)
}

// introspectionAlg signs JWT introspection responses (RFC 9701): the
// ID-token algorithm, which every deployment has a key for.
func (s *Server) introspectionAlg() string {
	if s.cfg.Tokens.IDTokenAlg != "" {
		return s.cfg.Tokens.IDTokenAlg
	}
	return token.DefaultIDTokenAlg
}

// claimsSupported is discovery's claims_supported: the claims Keyward sets
// itself, then the union of what the enabled claims sources advertise. A
// pattern cannot be listed as such: "*" (the users file, a source that
// does not say) stands for the standard claims of OIDC Core §5.1, and
// "prefix*" for the standard claims it matches; names of its own a
// pattern may cover are not listed (docs/api.md, discovery).
func (s *Server) claimsSupported() []string {
	out := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid"}
	seen := map[string]bool{}
	for _, c := range out {
		seen[c] = true
	}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	standard := oauth.ClaimsForScope(oauth.Scope{oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeAddress, oauth.ScopePhone})
	var advertised []string
	if s.claims != nil {
		advertised = s.claims.Supported()
	}
	for _, p := range advertised {
		prefix, isPattern := strings.CutSuffix(p, "*")
		if !isPattern {
			add(p)
			continue
		}
		for _, c := range standard {
			if strings.HasPrefix(c, prefix) {
				add(c)
			}
		}
	}
	return out
}
