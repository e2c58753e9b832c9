package plugin

import (
	"context"
	"time"
)

// The grant handler SPIs decide the authorisation of the token requests
// that involve no browser: the client credentials grant (RFC 6749 §4.4),
// the resource owner password grant (RFC 6749 §4.3), the JWT bearer grant
// (RFC 7523 §2.1) and the SAML 2.0 bearer grant (RFC 7522 §2.1), after
// Connect2id's grant handler SPIs
// (https://connect2id.com/products/server/docs/integration/password-grant-handler
// and its siblings).
//
// The server has already authenticated the client, checked that it is
// registered for the grant type and, for the assertion grants, verified the
// assertion's signature, issuer, audience, validity window and single use.
// A handler decides who the subject is, which scope and audience the tokens
// carry and how they are issued, or refuses with an *oauth.Error
// (invalid_grant, invalid_scope, access_denied, unauthorized_client, …).
// Any other error is an internal failure, answered as server_error.
//
// A handler must be safe for concurrent use and must not keep references
// to the request's slices and maps beyond the call.

// Client is the authenticated client of a grant request: the registered
// metadata a handler commonly needs (Connect2id forwards the same fields to
// its grant web hooks by default).
type Client struct {
	ID string
	// Confidential is true when the client authenticated with a secret or
	// a key; false for a public client (token_endpoint_auth_method none).
	Confidential bool
	// Scope is the client's registered scope (RFC 7591 §2), empty when it
	// registered none.
	Scope []string
	// ApplicationType is "web" or "native" (OIDC Dynamic Registration §2).
	ApplicationType string
	// Data is the free-form data the operator attached to the client.
	Data map[string]any
}

// GrantRequest is what every grant handler receives.
type GrantRequest struct {
	// Issuer is the server's issuer URL.
	Issuer string
	// GrantType is the grant_type of the request.
	GrantType string
	Client    Client
	// Scope is the requested scope (empty when the request named none).
	Scope []string
	// Params are the request's parameters other than those of the grant
	// and of client authentication (grant_type, scope, username, password,
	// assertion, client_id, client_secret, client_assertion,
	// client_assertion_type): custom parameters and, for instance,
	// "resource" (RFC 8707).
	Params map[string][]string
}

// PasswordRequest is a resource owner password grant (RFC 6749 §4.3.2).
type PasswordRequest struct {
	GrantRequest
	Username string
	Password string
}

// Assertion is a verified authorisation grant assertion (RFC 7521 §5.2): a
// JWT (RFC 7523 §3) or a SAML 2.0 assertion (RFC 7522 §3). Every field was
// read from the signed content.
type Assertion struct {
	// Issuer is "iss" or the SAML <Issuer>.
	Issuer string
	// Subject is "sub" or the SAML <NameID>.
	Subject string
	// SubjectFormat is the SAML NameID Format; empty for JWTs.
	SubjectFormat string
	Audience      []string
	// ID is "jti" or the SAML assertion ID; the server has already made
	// sure it is used once.
	ID        string
	IssuedAt  time.Time
	NotBefore time.Time // zero when absent
	ExpiresAt time.Time
	// SelfIssued is true when the client issued (and signed) the
	// assertion itself, false when a configured trusted issuer did.
	SelfIssued bool
	// Claims is the JWT claims set, or the SAML attributes (name →
	// []string), as JSON values.
	Claims map[string]any
}

// AssertionRequest is a JWT or SAML 2.0 bearer grant with its verified
// assertion.
type AssertionRequest struct {
	GrantRequest
	Assertion Assertion
}

// Token encodings of an access token (Connect2id's names).
const (
	EncodingSelfContained = "SELF_CONTAINED"
	EncodingIdentifier    = "IDENTIFIER"
)

// AccessTokenSpec says how the access token is issued. Zero values take the
// server's defaults (tokens.access_token_lifetime and
// tokens.access_token_encoding).
type AccessTokenSpec struct {
	Lifetime time.Duration
	// Encoding is EncodingSelfContained (a signed JWT, RFC 9068) or
	// EncodingIdentifier (an opaque, stored token).
	Encoding string
}

// RefreshTokenSpec says whether and how a refresh token is issued. The
// client credentials grant never issues one (RFC 6749 §4.4.3).
type RefreshTokenSpec struct {
	Issue bool
	// Lifetime is zero for a refresh token that does not expire.
	Lifetime time.Duration
	// MaxIdle ends the refresh token when it is not used for this long;
	// zero: no limit.
	MaxIdle time.Duration
	// Rotate issues a new refresh token on each use.
	Rotate bool
}

// IDTokenSpec says whether and how an ID token is issued; only with the
// openid scope, and never for the client credentials grant.
type IDTokenSpec struct {
	Issue bool
	// Lifetime zero takes tokens.id_token_lifetime.
	Lifetime time.Duration
}

// Authorization is a handler's decision (Connect2id's grant
// authorisation): who the tokens are for and what they carry.
type Authorization struct {
	// Subject is the end-user (or, for the client credentials grant, is
	// ignored: the subject is the client). Required for the other grants.
	Subject string
	// Scope is the granted scope; it may be empty.
	Scope []string
	// Audience lists the resource servers the access token is for; empty:
	// the server itself.
	Audience     []string
	AccessToken  AccessTokenSpec
	RefreshToken RefreshTokenSpec
	IDToken      IDTokenSpec
	// Claims are the OpenID claim names released at UserInfo (and, with an
	// "id_token:" prefix, in the ID token), for grants with a subject.
	Claims        []string
	ClaimsLocales []string
	// PresetIDTokenClaims and PresetUserInfoClaims are claims the handler
	// supplies itself.
	PresetIDTokenClaims  map[string]any
	PresetUserInfoClaims map[string]any
	// ClaimsData is passed to the claims sources.
	ClaimsData map[string]any
	// Data is custom authorisation data kept with the grant.
	Data map[string]any
}

// ClientCredentialsHandler decides client credentials grants
// (RFC 6749 §4.4).
type ClientCredentialsHandler interface {
	HandleClientCredentials(ctx context.Context, req GrantRequest) (*Authorization, error)
}

// PasswordHandler decides resource owner password grants (RFC 6749 §4.3).
// A wrong password or an unknown user is oauth.InvalidGrant, with the same
// description and comparable work for both.
type PasswordHandler interface {
	HandlePassword(ctx context.Context, req PasswordRequest) (*Authorization, error)
}

// JWTBearerHandler decides JWT bearer grants (RFC 7523 §2.1), self-issued
// and third-party.
type JWTBearerHandler interface {
	HandleJWTBearer(ctx context.Context, req AssertionRequest) (*Authorization, error)
}

// SAML2BearerHandler decides SAML 2.0 bearer grants (RFC 7522 §2.1),
// self-issued and third-party.
type SAML2BearerHandler interface {
	HandleSAML2Bearer(ctx context.Context, req AssertionRequest) (*Authorization, error)
}
