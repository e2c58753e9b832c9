package simple

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// Tokens are the token settings a simple handler grants. Zero values take
// the server's defaults.
type Tokens struct {
	// Audience is the access token's audience; empty: the server itself.
	Audience []string
	// AccessTokenLifetime zero takes tokens.access_token_lifetime.
	AccessTokenLifetime time.Duration
	// AccessTokenEncoding is plugin.EncodingSelfContained,
	// plugin.EncodingIdentifier or empty (tokens.access_token_encoding).
	AccessTokenEncoding string
}

// Validate reports a bad setting.
func (t Tokens) Validate() error {
	switch t.AccessTokenEncoding {
	case "", plugin.EncodingSelfContained, plugin.EncodingIdentifier:
	default:
		return fmt.Errorf("access token encoding %q must be %s or %s", t.AccessTokenEncoding, plugin.EncodingSelfContained, plugin.EncodingIdentifier)
	}
	if t.AccessTokenLifetime < 0 {
		return fmt.Errorf("access token lifetime must not be negative")
	}
	for _, a := range t.Audience {
		if a == "" {
			return fmt.Errorf("audience must not contain an empty value")
		}
	}
	return nil
}

// NarrowScope returns the requested scope narrowed to the client's
// registered scope, or all of the registered scope when none is requested.
// Values the client may not have are dropped, as for the code flow; only
// when none of the requested values is allowed is the answer invalid_scope
// (RFC 6749 §5.2).
func NarrowScope(requested, registered []string) ([]string, error) {
	if len(requested) == 0 {
		return slices.Clone(registered), nil
	}
	granted := oauth.Scope(requested).Intersect(registered)
	if len(granted) == 0 {
		return nil, oauth.InvalidScope("none of the requested scope values is allowed for the client")
	}
	return []string(granted), nil
}

func (t Tokens) authorization(subject string, scope []string) *plugin.Authorization {
	return &plugin.Authorization{
		Subject:  subject,
		Scope:    scope,
		Audience: slices.Clone(t.Audience),
		AccessToken: plugin.AccessTokenSpec{
			Lifetime: t.AccessTokenLifetime,
			Encoding: t.AccessTokenEncoding,
		},
	}
}

// ClientCredentials is the built-in client credentials handler "simple":
// the subject is the client, the scope the requested scope narrowed to the
// client's registered scope, no refresh token (RFC 6749 §4.4.3).
type ClientCredentials struct{ Tokens Tokens }

var _ plugin.ClientCredentialsHandler = ClientCredentials{}

// HandleClientCredentials implements plugin.ClientCredentialsHandler.
func (h ClientCredentials) HandleClientCredentials(ctx context.Context, req plugin.GrantRequest) (*plugin.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("client credentials handler: %w", err)
	}
	scope, err := NarrowScope(req.Scope, req.Client.Scope)
	if err != nil {
		return nil, err
	}
	return h.Tokens.authorization(req.Client.ID, scope), nil
}

// JWTBearer is the built-in JWT bearer handler "simple": the subject is the
// assertion's "sub" (the client itself for a self-issued assertion, the
// user a trusted issuer vouches for otherwise), the scope the requested
// scope narrowed to the client's registered scope, no refresh token.
type JWTBearer struct{ Tokens Tokens }

var _ plugin.JWTBearerHandler = JWTBearer{}

// HandleJWTBearer implements plugin.JWTBearerHandler.
func (h JWTBearer) HandleJWTBearer(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error) {
	return h.Tokens.handleAssertion(ctx, req)
}

// SAML2Bearer is the built-in SAML 2.0 bearer handler "simple": the
// subject is the assertion's NameID, the scope the requested scope narrowed
// to the client's registered scope, no refresh token.
type SAML2Bearer struct{ Tokens Tokens }

var _ plugin.SAML2BearerHandler = SAML2Bearer{}

// HandleSAML2Bearer implements plugin.SAML2BearerHandler.
func (h SAML2Bearer) HandleSAML2Bearer(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error) {
	return h.Tokens.handleAssertion(ctx, req)
}

func (t Tokens) handleAssertion(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("assertion handler: %w", err)
	}
	if req.Assertion.Subject == "" {
		return nil, oauth.InvalidGrant("the assertion names no subject")
	}
	scope, err := NarrowScope(req.Scope, req.Client.Scope)
	if err != nil {
		return nil, err
	}
	return t.authorization(req.Assertion.Subject, scope), nil
}
