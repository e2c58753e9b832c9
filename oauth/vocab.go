package oauth

// Grant types (RFC 6749, RFC 7523, RFC 7522).
const (
	GrantTypeAuthorizationCode = "authorization_code"
	GrantTypeImplicit          = "implicit"
	GrantTypeRefreshToken      = "refresh_token"
	GrantTypePassword          = "password"
	GrantTypeClientCredentials = "client_credentials"
	GrantTypeJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantTypeSAML2Bearer       = "urn:ietf:params:oauth:grant-type:saml2-bearer"
)

// Response types (RFC 6749 §3.1.1, OAuth 2.0 Multiple Response Types).
const (
	ResponseTypeCode    = "code"
	ResponseTypeToken   = "token"
	ResponseTypeIDToken = "id_token"
)

// Response modes (OAuth 2.0 Multiple Response Types, Form Post Response Mode).
const (
	ResponseModeQuery    = "query"
	ResponseModeFragment = "fragment"
	ResponseModeFormPost = "form_post"
)

// Client authentication methods (RFC 7591 §2, OIDC Core §9).
const (
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodClientSecretJWT   = "client_secret_jwt"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"
	AuthMethodNone              = "none"
	// Mutual TLS client authentication (RFC 8705 §2.1, §2.2).
	AuthMethodTLSClientAuth           = "tls_client_auth"
	AuthMethodSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// ClientAssertionTypeJWTBearer is the client_assertion_type of RFC 7523 §2.2.
const ClientAssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Token types.
const (
	TokenTypeBearer = "Bearer"
)

// token_type_hint values of token revocation and introspection
// (RFC 7009 §2.1, RFC 7662 §2.1).
const (
	TokenTypeHintAccessToken  = "access_token"
	TokenTypeHintRefreshToken = "refresh_token"
)

// PKCE code challenge methods (RFC 7636 §4.2).
const (
	PKCEMethodS256  = "S256"
	PKCEMethodPlain = "plain"
)

// Prompt values (OIDC Core §3.1.2.1, Initiating User Registration).
const (
	PromptNone          = "none"
	PromptLogin         = "login"
	PromptConsent       = "consent"
	PromptSelectAccount = "select_account"
	PromptCreate        = "create"
)

// Display values (OIDC Core §3.1.2.1).
const (
	DisplayPage  = "page"
	DisplayPopup = "popup"
	DisplayTouch = "touch"
	DisplayWAP   = "wap"
)

// Scope values with meaning to OpenID Connect (OIDC Core §5.4, §11).
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeAddress       = "address"
	ScopePhone         = "phone"
	ScopeOfflineAccess = "offline_access"
)

// Application types (OIDC Dynamic Registration §2).
const (
	ApplicationTypeWeb    = "web"
	ApplicationTypeNative = "native"
)

// Access token encodings, as Connect2id names them.
const (
	TokenEncodingSelfContained = "SELF_CONTAINED"
	TokenEncodingIdentifier    = "IDENTIFIER"
)

// Claims transports: where an OpenID claim is delivered.
const (
	ClaimsTransportUserInfo = "userinfo"
	ClaimsTransportIDToken  = "id_token"
)
