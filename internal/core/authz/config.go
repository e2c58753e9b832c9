package authz

import (
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Defaults, Connect2id's (docs/configuration.md): a code is redeemed within
// seconds of its issue, so 60 s only bounds how long a stolen one is useful.
const (
	DefaultSessionLifetime     = 15 * time.Minute
	DefaultCodeLifetime        = 60 * time.Second
	DefaultPARLifetime         = 60 * time.Second
	DefaultAccessTokenLifetime = 600 * time.Second
	DefaultIDTokenLifetime     = 300 * time.Second
)

// Config shapes the authorisation endpoint's policy. Zero values take the
// defaults above.
type Config struct {
	// Issuer is our issuer identifier: the "iss" of every authorisation
	// response (RFC 9207) and the required issuer of an id_token_hint.
	Issuer          string
	SessionLifetime time.Duration
	CodeLifetime    time.Duration
	PARLifetime     time.Duration
	// AllowPlainPKCE admits code_challenge_method=plain (RFC 7636 §4.2);
	// off by default as RFC 9700 §2.1.1 advises.
	AllowPlainPKCE bool
	// DevLoopbackHTTP is accepted for symmetry with registration; redirect
	// URIs are validated when registered, so here only exact matching (and
	// the RFC 8252 §7.3 loopback port rule for native clients) applies.
	DevLoopbackHTTP bool
	// LimitToRegisteredScope intersects the requested scope with the
	// client's registered scope, when it registered one. "openid" is always
	// kept: it selects the protocol and grants nothing by itself.
	LimitToRegisteredScope bool
	// AlwaysPromptForConsent shows the consent prompt even when a long-lived
	// authorisation covers the request (Connect2id's
	// op.authz.alwaysPromptForConsent,
	// https://connect2id.com/products/server/docs/config/core).
	AlwaysPromptForConsent bool
	ACRValuesSupported     []string
	// IDTokenHintAlgs are the JWS algorithms accepted on id_token_hint;
	// default RS256, PS256, ES256, EdDSA (never none or HMAC).
	IDTokenHintAlgs []string
	// Tokens are the defaults for what a consent does not set. The refresh
	// token decision is made per request, see refreshByDefault.
	Tokens store.TokenSpec
	// RequestParamsInAuthPrompt and RequestParamsInConsentPrompt name the
	// request parameters copied into the prompts' "request" member
	// (Connect2id's op.authz.requestParamsInAuthPrompt and
	// op.authz.requestParamsInConsentPrompt,
	// https://connect2id.com/products/server/docs/config/core).
	RequestParamsInAuthPrompt    []string
	RequestParamsInConsentPrompt []string
	// IncludeRawClaimsRequest adds the claims parameter as received to the
	// consent prompt (claims.raw_request; Connect2id's
	// op.authz.includeRawClaimsRequestInPrompt).
	IncludeRawClaimsRequest bool
	// IDTokenSessionClaims names the subject session claims (given at
	// authentication) that ID tokens carry; "*" is all of them. Empty:
	// none (Connect2id's op.idToken.includeSubjectSessionClaims defaults
	// to "*").
	IDTokenSessionClaims []string
	// DisallowImplicitAccessTokens refuses the response types that return
	// an access token from the authorisation endpoint (the negation of
	// authz.allow_implicit_access_tokens, so that the zero Config keeps
	// Connect2id's behaviour).
	DisallowImplicitAccessTokens bool
	// RequireSignedRequestObject requires every client to send its
	// requests in signed request objects (RFC 9101 §10.5), as the client
	// metadata require_signed_request_object does for one.
	RequireSignedRequestObject bool
	// AuthorizationDetailsTypes are the authorization_details types
	// (RFC 9396) clients may request (authz.authorization_details_types);
	// empty: the parameter is refused.
	AuthorizationDetailsTypes []string
	// Resources are the resource indicators (RFC 8707) every client may
	// request (authz.resources); a client's allowed_resources add to them.
	Resources []string
	// Profile is the server-wide security profile (authz.profile): "" or
	// authzpolicy.ProfileFAPI2.
	Profile string
}

func (c Config) withDefaults() Config {
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.CodeLifetime <= 0 {
		c.CodeLifetime = DefaultCodeLifetime
	}
	if c.PARLifetime <= 0 {
		c.PARLifetime = DefaultPARLifetime
	}
	if len(c.IDTokenHintAlgs) == 0 {
		c.IDTokenHintAlgs = []string{oauth.AlgRS256, oauth.AlgPS256, oauth.AlgES256, oauth.AlgEdDSA}
	}
	if c.Tokens.AccessTokenLifetime <= 0 {
		c.Tokens.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.Tokens.AccessTokenEncoding == "" {
		c.Tokens.AccessTokenEncoding = oauth.TokenEncodingSelfContained
	}
	if c.Tokens.IDTokenLifetime <= 0 {
		c.Tokens.IDTokenLifetime = DefaultIDTokenLifetime
	}
	return c
}
