package token

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const paramGrantType = "grant_type"

// Grant serves one grant_type at the token endpoint (docs/architecture.md).
// The dispatcher has already authenticated the client and checked that it
// registered the grant type; the grant decides the authorisation and the
// dispatcher mints the tokens.
type Grant interface {
	// Type is the grant_type value, e.g. oauth.GrantTypePassword.
	Type() string
	// RequiresClientAuth reports whether public clients (method "none")
	// are refused; a client_credentials grant, for instance, needs a
	// confidential client (RFC 6749 §4.4).
	RequiresClientAuth() bool
	// Authorize decides the authorisation for an authenticated client.
	// Protocol refusals are *oauth.Error (invalid_grant, invalid_scope,
	// access_denied …); anything else is an internal failure.
	Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error)
}

// Request is a token request as a grant sees it.
type Request struct {
	GrantType string
	Form      url.Values
	// Now is the request time; grants judge expiry against it.
	Now time.Time
	// DPoP is the verified proof of the request, nil without one.
	DPoP *jose.DPoPProof
	// CertThumbprint is the request's TLS client certificate thumbprint
	// (Credentials.CertThumbprint), empty without one.
	CertThumbprint string
	// Confirmation is what the tokens minted now are bound to: the
	// proof's key, the client certificate, or nothing (the dispatcher
	// sets it; sender.go).
	Confirmation store.Confirmation
}

// Decision is what a grant authorised; the dispatcher mints from it.
type Decision struct {
	// Grant is the authorisation the tokens hang off.
	Grant *store.Grant
	// Create makes the dispatcher store Grant before minting (a new
	// authorisation); otherwise Grant already exists.
	Create bool
	// Scope is the scope of the tokens minted now; nil means Grant.Scope.
	Scope oauth.Scope
	// Audience and AuthorizationDetails narrow the access token minted now
	// (RFC 8707 §2.2, RFC 9396 §6.2); nil means the grant's.
	Audience             []string
	AuthorizationDetails []json.RawMessage
	// IDToken asks for an ID token, with Nonce when non-empty.
	IDToken bool
	Nonce   string
	// PresetIDTokenClaims adds Grant.PresetIDTokenClaims to the ID token;
	// they are a consent-time directive and are not repeated on refresh
	// (as in Connect2id).
	PresetIDTokenClaims bool
	// IssueRefreshToken makes the dispatcher mint and store a new refresh
	// token expiring at RefreshTokenExpiresAt (zero: never).
	IssueRefreshToken bool
	// RefreshToken is a refresh token the grant already stored (rotation),
	// returned as is, expiring at RefreshTokenExpiresAt.
	RefreshToken          string
	RefreshTokenExpiresAt time.Time
	// NotAfter caps the access token's expiry (zero: no cap) so that it
	// never outlives the refresh token: once the grant is gone, no token
	// issued under it may still work.
	NotAfter time.Time
	// RevocationMark, when set, is the replay-cache key a replay of the
	// same code sets before revoking; the dispatcher checks it after
	// storing Grant (see revocationMark).
	RevocationMark      string
	RevocationMarkUntil time.Time
	// Confirmation binds the access tokens minted now (DPoP key or client
	// certificate); the dispatcher sets it from the request (sender.go).
	Confirmation store.Confirmation
	// Stateless mints a self-contained access token and nothing else,
	// storing nothing: Grant is not stored and its ID is empty, so the
	// token carries no "gid". Such a token is valid by its signature and
	// expiry alone, and revocable only through the revocation journal (by
	// token, client or subject). Only a client credentials decision is
	// stateless (decide).
	Stateless bool
	// Code is the authorisation code issued alongside an ID token from the
	// authorisation endpoint (hybrid flow): the ID token then carries its
	// c_hash (OIDC Core §3.3.2.11). See IssueFrontChannel.
	Code string
}

// grant returns the handler for grant type t, or nil.
func (s *Service) grant(t string) Grant {
	switch t {
	case oauth.GrantTypeAuthorizationCode:
		return authCodeGrant{s}
	case oauth.GrantTypeRefreshToken:
		return refreshGrant{s}
	}
	for _, g := range s.Handlers {
		if g.Type() == t {
			return g
		}
	}
	return nil
}

// Token serves a token request (RFC 6749 §3.2): it checks the request,
// authenticates the client, dispatches to the grant and mints the tokens.
//
// Errors are *oauth.Error: invalid_request for a missing grant_type or a
// repeated parameter (RFC 6749 §3.2), unsupported_grant_type for an
// unknown one, invalid_client (401) from AuthenticateClient,
// unauthorized_client when the client did not register the grant type, and
// whatever the grant refuses with.
func (s *Service) Token(ctx context.Context, c Credentials) (*Response, error) {
	for name, vs := range c.Form {
		if len(vs) > 1 && name != "resource" {
			return nil, oauth.InvalidRequest("repeated parameter " + name)
		}
	}
	// Control characters, invalid UTF-8 and floods of parameters
	// (docs/api.md §23); the values' sizes are bounded by the body limit
	// and by each grant's parser.
	if oe := oauth.CheckParams(c.Form, oauth.ParamLimits{}); oe != nil {
		return nil, oe
	}
	gt := c.Form.Get(paramGrantType)
	if gt == "" {
		return nil, oauth.InvalidRequest("missing grant_type")
	}
	g := s.grant(gt)
	if g == nil {
		return nil, oauth.UnsupportedGrantType("unsupported grant_type")
	}
	client, err := s.AuthenticateClient(ctx, c)
	if err != nil {
		return nil, err
	}
	allowed := client.Metadata.GrantTypes
	if len(allowed) == 0 {
		allowed = []string{oauth.GrantTypeAuthorizationCode}
	}
	if !slices.Contains(allowed, gt) {
		return nil, oauth.UnauthorizedClient("the client is not registered for grant type " + gt)
	}
	if g.RequiresClientAuth() && client.Metadata.TokenEndpointAuthMethod == oauth.AuthMethodNone {
		return nil, oauth.UnauthorizedClient("grant type " + gt + " needs a confidential client")
	}
	req := &Request{GrantType: gt, Form: c.Form, Now: s.now()}
	if err := s.senderConstrain(ctx, req, c, client); err != nil {
		return nil, err
	}
	if err := s.requireSenderConstrained(client, req); err != nil {
		return nil, err
	}
	d, err := g.Authorize(ctx, req, client)
	if err != nil {
		if oauth.AsError(err) != nil {
			return nil, err
		}
		return nil, s.serverError(ctx, "authorize "+gt, err)
	}
	if gt == oauth.GrantTypeAuthorizationCode || gt == oauth.GrantTypeRefreshToken {
		if err := s.narrow(req, client, d); err != nil {
			return nil, err
		}
	}
	d.Confirmation = req.Confirmation
	bindGrant(req, client, d)
	resp, err := s.mint(ctx, req.Now, client, d)
	if err != nil {
		return nil, err
	}
	s.log().InfoContext(ctx, "token issued", "client_id", client.ID, "grant_type", gt, "grant_id", d.Grant.ID)
	return resp, nil
}
