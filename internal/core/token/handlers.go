package token

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// Form parameters of the grants decided by handler plug-ins (RFC 6749
// §4.3.2, §4.4.2; RFC 7521 §4.1).
const (
	paramScope     = "scope"
	paramUsername  = "username"
	paramPassword  = "password"
	paramAssertion = "assertion"
)

// grantParams are the parameters a handler receives as fields, not in
// GrantRequest.Params; client authentication's never reach it.
var grantParams = []string{paramGrantType, paramScope, paramUsername, paramPassword, paramAssertion,
	paramClientID, paramClientSecret, paramClientAssertion, paramClientAssertionType}

// Bounds on values a handler answers with or a client sends.
const (
	// maxCredentialLen bounds a username or password: no directory has
	// longer ones, and hashing a megabyte would only cost us.
	maxCredentialLen = 1024
	// maxSubjectLen bounds a subject a handler or an assertion names.
	maxSubjectLen = 255
	// maxBearerAssertionLen bounds a JWT or SAML bearer assertion. A SAML
	// assertion with a certificate chain in its signature is a few KiB;
	// the request body limit (50 000 bytes) is the outer bound.
	maxBearerAssertionLen = 40_000
	// DefaultBearerAssertionMaxAhead bounds how far ahead a bearer
	// assertion's expiry may be, so that the replay cache entry that makes
	// it single-use is bounded too.
	DefaultBearerAssertionMaxAhead = time.Hour
)

// ClientCredentialsGrant returns the client credentials grant
// (RFC 6749 §4.4) decided by h. Only confidential clients may use it
// (§4.4: "MUST only be used by confidential clients"). With a
// self-contained access token no longer-lived than the default, nothing is
// stored: the token carries everything (see Decision.Stateless).
func ClientCredentialsGrant(s *Service, h plugin.ClientCredentialsHandler) Grant {
	return clientCredentialsGrant{s: s, h: h}
}

type clientCredentialsGrant struct {
	s *Service
	h plugin.ClientCredentialsHandler
}

func (clientCredentialsGrant) Type() string             { return oauth.GrantTypeClientCredentials }
func (clientCredentialsGrant) RequiresClientAuth() bool { return true }

func (g clientCredentialsGrant) Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error) {
	gr, err := g.s.grantRequest(req, c)
	if err != nil {
		return nil, err
	}
	a, err := g.h.HandleClientCredentials(ctx, gr)
	if err != nil {
		return nil, handlerError(err)
	}
	if a == nil {
		return nil, fmt.Errorf("client credentials handler returned no authorization")
	}
	if a.RefreshToken.Issue || a.IDToken.Issue {
		// RFC 6749 §4.4.3: no refresh token; and no end-user, so no ID
		// token. A handler asking for one is misconfigured.
		return nil, fmt.Errorf("client credentials handler asked for a refresh or ID token")
	}
	// The client is the subject (RFC 6749 §4.4; RFC 9068 §2.2).
	return g.s.decide(req.Now, c, c.ID, a, true)
}

// PasswordGrant returns the resource owner password credentials grant
// (RFC 6749 §4.3) decided by h. Public clients may use it (§4.3.2).
func PasswordGrant(s *Service, h plugin.PasswordHandler) Grant {
	return passwordGrant{s: s, h: h}
}

type passwordGrant struct {
	s *Service
	h plugin.PasswordHandler
}

func (passwordGrant) Type() string             { return oauth.GrantTypePassword }
func (passwordGrant) RequiresClientAuth() bool { return false }

func (g passwordGrant) Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error) {
	user, pass := req.Form.Get(paramUsername), req.Form.Get(paramPassword)
	if user == "" || !req.Form.Has(paramPassword) {
		return nil, oauth.InvalidRequest("missing username or password")
	}
	if len(user) > maxCredentialLen || len(pass) > maxCredentialLen {
		return nil, oauth.InvalidGrant("invalid username or password")
	}
	gr, err := g.s.grantRequest(req, c)
	if err != nil {
		return nil, err
	}
	a, err := g.h.HandlePassword(ctx, plugin.PasswordRequest{GrantRequest: gr, Username: user, Password: pass})
	if err != nil {
		return nil, handlerError(err)
	}
	if a == nil {
		return nil, fmt.Errorf("password handler returned no authorization")
	}
	d, err := g.s.decide(req.Now, c, a.Subject, a, false)
	if err != nil {
		return nil, err
	}
	// The user authenticated with this very request.
	d.Grant.AuthTime = req.Now
	return d, nil
}

// AssertionHandler decides a bearer assertion grant:
// plugin.JWTBearerHandler.HandleJWTBearer or
// plugin.SAML2BearerHandler.HandleSAML2Bearer.
type AssertionHandler func(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error)

// AssertionGrant returns the bearer assertion grant of grantType
// (oauth.GrantTypeJWTBearer, RFC 7523 §2.1, or oauth.GrantTypeSAML2Bearer,
// RFC 7522 §2.1): v verifies the assertion, the grant makes its ID single
// use across the cluster for its lifetime (RFC 7523 §3 item 7, RFC 7522 §3
// item 8) in the replay cache, keyed by grant type, issuer and ID, and h
// decides. maxAhead bounds the assertion's expiry
// (DefaultBearerAssertionMaxAhead when zero); the verifier should apply
// the same bound. Public clients may use it (RFC 7521 §4.1 makes client
// authentication optional).
func AssertionGrant(s *Service, grantType string, v assertion.Verifier, h AssertionHandler, maxAhead time.Duration) Grant {
	if maxAhead <= 0 {
		maxAhead = DefaultBearerAssertionMaxAhead
	}
	return assertionGrant{s: s, grantType: grantType, v: v, h: h, maxAhead: maxAhead}
}

type assertionGrant struct {
	s         *Service
	grantType string
	v         assertion.Verifier
	h         AssertionHandler
	maxAhead  time.Duration
}

func (g assertionGrant) Type() string           { return g.grantType }
func (assertionGrant) RequiresClientAuth() bool { return false }

func (g assertionGrant) Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error) {
	s := g.s
	raw := req.Form.Get(paramAssertion)
	if raw == "" {
		return nil, oauth.InvalidRequest("missing assertion")
	}
	if len(raw) > maxBearerAssertionLen {
		return nil, oauth.InvalidRequest(fmt.Sprintf("assertion larger than %d bytes", maxBearerAssertionLen))
	}
	v, err := g.v.Verify(ctx, raw, c, req.Now)
	if err != nil {
		if e := oauth.AsError(err); e != nil {
			s.log().InfoContext(ctx, "bearer assertion refused", "client_id", c.ID, "grant_type", g.grantType, "err", err)
			return nil, e
		}
		return nil, fmt.Errorf("verify assertion: %w", err)
	}
	// Defence in depth: the verifier promises these, but the replay cache
	// and the subject rest on them.
	switch {
	case v == nil:
		return nil, fmt.Errorf("verifier returned no assertion")
	case v.ID == "" || v.Issuer == "":
		return nil, oauth.InvalidGrant("the assertion has no issuer or ID")
	case v.SelfIssued && v.Issuer != c.ID:
		return nil, oauth.InvalidGrant("a self-issued assertion must be issued by the client")
	case !req.Now.Before(v.ExpiresAt.Add(jose.AssertionLeeway)):
		return nil, oauth.InvalidGrant("the assertion has expired")
	case v.ExpiresAt.After(req.Now.Add(g.maxAhead + jose.AssertionLeeway)):
		return nil, oauth.InvalidGrant("the assertion expires too far ahead")
	}
	key := "bearer_assertion:" + g.grantType + ":" + v.Issuer + "\x00" + v.ID
	if g.grantType == oauth.GrantTypeJWTBearer && v.SelfIssued {
		// A self-issued JWT looks exactly like a client authentication
		// assertion (RFC 7523 §2.1, §2.2): one jti namespace for both, so
		// one JWT cannot serve as both, nor once as each.
		key = clientAssertionKey(c.ID, v.ID)
	}
	used, err := s.markUsed(ctx, key, v.ExpiresAt.Add(jose.AssertionLeeway), req.Now)
	if err != nil {
		return nil, fmt.Errorf("mark assertion used: %w", err)
	}
	if used {
		s.log().WarnContext(ctx, "bearer assertion replayed", "client_id", c.ID, "grant_type", g.grantType, "iss", v.Issuer)
		return nil, oauth.InvalidGrant("the assertion was already used")
	}
	gr, err := s.grantRequest(req, c)
	if err != nil {
		return nil, err
	}
	a, err := g.h(ctx, plugin.AssertionRequest{GrantRequest: gr, Assertion: publicAssertion(v)})
	if err != nil {
		return nil, handlerError(err)
	}
	if a == nil {
		return nil, fmt.Errorf("%s handler returned no authorization", g.grantType)
	}
	return s.decide(req.Now, c, a.Subject, a, false)
}

// publicAssertion converts the core's verified assertion to the plug-in
// API's, with copies of its slices and maps.
func publicAssertion(v *assertion.Verified) plugin.Assertion {
	return plugin.Assertion{
		Issuer: v.Issuer, Subject: v.Subject, SubjectFormat: v.SubjectFormat,
		Audience: slices.Clone(v.Audience), ID: v.ID,
		IssuedAt: v.IssuedAt, NotBefore: v.NotBefore, ExpiresAt: v.ExpiresAt,
		SelfIssued: v.SelfIssued, Claims: cloneJSON(v.Claims),
	}
}

// handlerError passes a handler's OAuth refusal on and wraps anything else
// as an internal failure (Token turns it into server_error).
func handlerError(err error) error {
	if e := oauth.AsError(err); e != nil {
		return e
	}
	return fmt.Errorf("grant handler: %w", err)
}

// grantRequest builds what every handler receives: the client, the
// requested scope (invalid_scope when malformed) and the other parameters.
func (s *Service) grantRequest(req *Request, c *store.Client) (plugin.GrantRequest, error) {
	scope := oauth.ParseScope(req.Form.Get(paramScope))
	for _, tok := range scope {
		if !oauth.ValidScopeToken(tok) {
			return plugin.GrantRequest{}, oauth.InvalidScope("malformed scope")
		}
	}
	params := map[string][]string{}
	for k, vs := range req.Form {
		if !slices.Contains(grantParams, k) {
			params[k] = slices.Clone(vs)
		}
	}
	md := c.Metadata
	return plugin.GrantRequest{
		Issuer:    s.Config.withDefaults().Issuer,
		GrantType: req.GrantType,
		Client: plugin.Client{
			ID:              c.ID,
			Confidential:    md.TokenEndpointAuthMethod != oauth.AuthMethodNone,
			Scope:           oauth.ParseScope(md.Scope),
			ApplicationType: md.ApplicationType,
			Data:            cloneJSON(md.Data),
		},
		Scope:  scope,
		Params: params,
	}, nil
}

// decide turns a handler's authorisation into the dispatcher's decision:
// a new grant for subject and client c, with a refresh token and an ID
// token (openid scope only) when the handler asks. A malformed answer is
// an internal failure: the handler, not the client, is at fault.
//
// A client credentials decision (clientOnly) whose access token is
// self-contained and no longer-lived than the default is stateless: no
// grant is stored, so the hot path writes nothing (docs/architecture.md).
// The default bound keeps such tokens revocable: a revocation by client or
// subject journals its entry for at least the default lifetime (Revoke).
func (s *Service) decide(now time.Time, c *store.Client, subject string, a *plugin.Authorization, clientOnly bool) (*Decision, error) {
	if err := checkAuthorization(a, subject); err != nil {
		return nil, err
	}
	openid := oauth.Scope(a.Scope).Contains(oauth.ScopeOpenID)
	rotate := a.RefreshToken.Rotate || c.Metadata.TokenEndpointAuthMethod == oauth.AuthMethodNone
	g := &store.Grant{
		Subject:  subject,
		ClientID: c.ID,
		Consented: store.Consented{
			Scope:                slices.Clone(a.Scope),
			Claims:               slices.Clone(a.Claims),
			ClaimsLocales:        slices.Clone(a.ClaimsLocales),
			PresetIDTokenClaims:  cloneJSON(a.PresetIDTokenClaims),
			PresetUserInfoClaims: cloneJSON(a.PresetUserInfoClaims),
			ClaimsData:           cloneJSON(a.ClaimsData),
			Audience:             slices.Clone(a.Audience),
			Data:                 cloneJSON(a.Data),
		},
		Tokens: store.TokenSpec{
			AccessTokenLifetime:  a.AccessToken.Lifetime,
			AccessTokenEncoding:  a.AccessToken.Encoding,
			IssueRefreshToken:    a.RefreshToken.Issue,
			RefreshTokenLifetime: a.RefreshToken.Lifetime,
			RefreshTokenMaxIdle:  a.RefreshToken.MaxIdle,
			RotateRefreshToken:   a.RefreshToken.Issue && rotate,
			IDTokenLifetime:      a.IDToken.Lifetime,
		},
	}
	spec := s.spec(g.Tokens)
	if clientOnly && spec.AccessTokenEncoding == oauth.TokenEncodingSelfContained &&
		spec.AccessTokenLifetime <= s.Config.withDefaults().Defaults.AccessTokenLifetime {
		g.CreatedAt = now
		g.ExpiresAt = now.Add(spec.AccessTokenLifetime)
		return &Decision{Grant: g, Stateless: true}, nil
	}
	id, err := secret.Token(s.Rand, 16)
	if err != nil {
		return nil, fmt.Errorf("new grant id: %w", err)
	}
	g.ID = id
	d := s.newGrantDecision(now, g)
	d.IDToken = a.IDToken.Issue && openid
	return d, nil
}

// checkAuthorization validates a handler's answer.
func checkAuthorization(a *plugin.Authorization, subject string) error {
	if subject == "" || len(subject) > maxSubjectLen || !utf8.ValidString(subject) {
		return fmt.Errorf("grant handler: missing or malformed subject")
	}
	for _, tok := range a.Scope {
		if !oauth.ValidScopeToken(tok) {
			return fmt.Errorf("grant handler: malformed scope value %q", tok)
		}
	}
	for _, aud := range a.Audience {
		if aud == "" {
			return fmt.Errorf("grant handler: empty audience value")
		}
	}
	switch a.AccessToken.Encoding {
	case "", oauth.TokenEncodingSelfContained, oauth.TokenEncodingIdentifier:
	default:
		return fmt.Errorf("grant handler: unknown access token encoding %q", a.AccessToken.Encoding)
	}
	if a.AccessToken.Lifetime < 0 || a.RefreshToken.Lifetime < 0 || a.RefreshToken.MaxIdle < 0 || a.IDToken.Lifetime < 0 {
		return fmt.Errorf("grant handler: negative token lifetime")
	}
	return nil
}

// cloneJSON deep-copies a JSON object, so that neither a handler nor the
// client cache shares maps with the other; nil stays nil.
func cloneJSON(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneJSON(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneValue(e)
		}
		return out
	case []string:
		return slices.Clone(v)
	case json.RawMessage:
		return slices.Clone(v)
	default:
		return v
	}
}
