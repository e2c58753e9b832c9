package server

import (
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/httpapi"
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
	return &httpapi.ProviderMetadata{
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
		ResponseTypesSupported:            []string{oauth.ResponseTypeCode},
		ResponseModesSupported:            []string{oauth.ResponseModeQuery, oauth.ResponseModeFragment, oauth.ResponseModeFormPost},
		GrantTypesSupported:               node.GrantTypesFor(s.cfg),
		ACRValuesSupported:                s.cfg.Authz.ACRValues,
		SubjectTypesSupported:             []string{"public", "pairwise"},
		IDTokenSigningAlgValuesSupported:  idAlgs,
		TokenEndpointAuthMethodsSupported: node.AuthMethods,
		// HS384 and HS512 are accepted too, but need longer secrets than the
		// 256-bit ones the server generates, so only HS256 is advertised.
		TokenEndpointAuthSigningAlgValuesSupported: append(oauth.AsymmetricAlgs(), oauth.AlgHS256),
		// Both endpoints authenticate clients as the token endpoint does;
		// introspection also takes a bearer token (api_tokens.introspection).
		IntrospectionEndpointAuthMethodsSupported: node.AuthMethods,
		RevocationEndpointAuthMethodsSupported:    node.AuthMethods,
		IntrospectionSigningAlgValuesSupported:    []string{s.introspectionAlg()},
		DisplayValuesSupported:                    []string{oauth.DisplayPage, oauth.DisplayPopup, oauth.DisplayTouch, oauth.DisplayWAP},
		ClaimsSupported: append([]string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid"},
			oauth.ClaimsForScope(oauth.Scope{oauth.ScopeProfile, oauth.ScopeEmail, oauth.ScopeAddress, oauth.ScopePhone})...),
		ClaimsParameterSupported:      true,
		RequestParameterSupported:     false,
		RequestURIParameterSupported:  false,
		CodeChallengeMethodsSupported: pkce,
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
	}
}

// introspectionAlg signs JWT introspection responses (RFC 9701): the
// ID-token algorithm, which every deployment has a key for.
func (s *Server) introspectionAlg() string {
	if s.cfg.Tokens.IDTokenAlg != "" {
		return s.cfg.Tokens.IDTokenAlg
	}
	return token.DefaultIDTokenAlg
}
