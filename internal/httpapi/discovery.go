package httpapi

import (
	"encoding/json"
	"net/http"
)

// ProviderMetadata is the discovery document (OpenID Connect Discovery 1.0
// §3, RFC 8414 §2). Every value must be true of the running server.
type ProviderMetadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserInfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RegistrationEndpoint                       string   `json:"registration_endpoint"`
	PushedAuthorizationRequestEndpoint         string   `json:"pushed_authorization_request_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	ACRValuesSupported                         []string `json:"acr_values_supported,omitempty"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionSigningAlgValuesSupported     []string `json:"introspection_signing_alg_values_supported"`
	DisplayValuesSupported                     []string `json:"display_values_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	RequirePushedAuthorizationRequests         bool     `json:"require_pushed_authorization_requests"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	ClaimsLocalesSupported                     []string `json:"claims_locales_supported,omitempty"`
	UILocalesSupported                         []string `json:"ui_locales_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// AuthorizationDetailsTypesSupported lists the authorization_details
	// types (RFC 9396 §10); absent when none are configured (the parameter
	// is then refused).
	AuthorizationDetailsTypesSupported []string `json:"authorization_details_types_supported,omitempty"`
	// Logout (RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1,
	// Front-Channel Logout 1.0 §3).
	EndSessionEndpoint                 string `json:"end_session_endpoint,omitempty"`
	BackchannelLogoutSupported         bool   `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported  bool   `json:"backchannel_logout_session_supported"`
	FrontchannelLogoutSupported        bool   `json:"frontchannel_logout_supported"`
	FrontchannelLogoutSessionSupported bool   `json:"frontchannel_logout_session_supported"`
	// Request objects (RFC 9101 §10.1, OIDC Discovery 1.0 §3) and
	// JWT-secured authorisation responses (JARM §5).
	RequestObjectSigningAlgValuesSupported    []string `json:"request_object_signing_alg_values_supported,omitempty"`
	RequestObjectEncryptionAlgValuesSupported []string `json:"request_object_encryption_alg_values_supported,omitempty"`
	RequestObjectEncryptionEncValuesSupported []string `json:"request_object_encryption_enc_values_supported,omitempty"`
	RequireRequestURIRegistration             bool     `json:"require_request_uri_registration,omitempty"`
	RequireSignedRequestObject                bool     `json:"require_signed_request_object"`
	AuthorizationSigningAlgValuesSupported    []string `json:"authorization_signing_alg_values_supported,omitempty"`
	// Sender-constrained tokens: DPoP (RFC 9449 §5.1) and mutual TLS
	// (RFC 8705 §3.3, §5), each present only when enabled.
	DPoPSigningAlgValuesSupported         []string          `json:"dpop_signing_alg_values_supported,omitempty"`
	TLSClientCertificateBoundAccessTokens bool              `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	MTLSEndpointAliases                   map[string]string `json:"mtls_endpoint_aliases,omitempty"`
}

func (m *ProviderMetadata) marshal() ([]byte, error) { return json.Marshal(m) }

func (a *API) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(a.discovery)
}

func (a *API) serveJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short, so that clients see a new key soon after a rotation.
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Write(a.Keys.JWKS())
}
