package token

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Token kinds of an Introspection.
const (
	KindAccessToken  = "access_token"
	KindRefreshToken = "refresh_token"
)

// Introspection is what a live token stands for.
type Introspection struct {
	// Kind is KindAccessToken or KindRefreshToken.
	Kind      string
	Scope     oauth.Scope
	ClientID  string
	Subject   string
	Audience  []string
	IssuedAt  time.Time
	ExpiresAt time.Time // zero: a refresh token without expiry
	// JTI is the "jti" of a self-contained access token, else empty.
	JTI string
	// Grant is the authorisation the token was issued under.
	Grant *store.Grant
	// SubjectType is "PAIRWISE" for an access token with a pairwise
	// subject (Subject is then that pairwise subject, as the token
	// carries it; Grant.Subject is the real one).
	SubjectType string
	// Confirmation is what an access token is bound to (RFC 9449 §6.2,
	// RFC 8705 §3.2), or a refresh token through its grant.
	Confirmation store.Confirmation
	// AuthorizationDetails are the token's authorization_details
	// (RFC 9396 §9.2): a self-contained access token's own, else the
	// grant's.
	AuthorizationDetails []json.RawMessage
}

// Inspect returns what the access or refresh token value stands for, or
// nil when it is not a live token of ours: unknown, malformed, expired,
// rotated, revoked (its grant deleted, or, for a self-contained token, a
// matching revocation journal entry) or issued by another issuer. It is
// the entry point of the authorisation store API's inspection resource
// and the basis of Introspect. It makes no access decision: the caller
// must be entitled to see any token. Errors: server_error (logged) only.
func (s *Service) Inspect(ctx context.Context, value string) (*Introspection, error) {
	return s.inspect(ctx, value, "")
}

func (s *Service) inspect(ctx context.Context, value, hint string) (*Introspection, error) {
	now := s.now()
	t, err := s.findToken(ctx, value, hint, now)
	if err != nil || t == nil {
		return nil, err
	}
	if t.access != nil && t.access.jwt != nil && t.access.grantID == "" {
		// A stateless token stands on its own: the signature, expiry
		// and journal checks of checkJWT are all there is.
		c := t.access.jwt
		return &Introspection{
			Kind: KindAccessToken, Scope: c.scope(), ClientID: c.clientID(), Subject: c.Subject,
			Audience: c.Audience, JTI: c.ID, AuthorizationDetails: c.AuthorizationDetails,
			IssuedAt: time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(c.Expiry, 0).UTC(),
			Confirmation: t.access.cnf,
		}, nil
	}
	g, err := s.Grants.Get(ctx, t.grantID(), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.serverError(ctx, "get grant", err)
	}
	if g.ClientID != t.clientID() {
		return nil, nil
	}
	out := &Introspection{Scope: oauth.Scope(g.Scope), ClientID: g.ClientID, Subject: g.Subject, Grant: g,
		AuthorizationDetails: g.AuthorizationDetails}
	switch {
	case t.refresh != nil:
		rt := t.refresh
		spec := s.spec(g.Tokens)
		if spec.RefreshTokenMaxIdle > 0 && now.Sub(lastUse(rt)) > spec.RefreshTokenMaxIdle {
			return nil, nil
		}
		out.Kind, out.IssuedAt, out.ExpiresAt = KindRefreshToken, rt.CreatedAt, rt.ExpiresAt
		out.Confirmation = g.Confirmation
	case t.access.jwt != nil:
		c := t.access.jwt
		if _, ok, err := s.bearerSubjectOK(ctx, g, t.access); err != nil || !ok {
			return nil, err
		}
		out.Kind, out.Scope, out.Audience, out.JTI = KindAccessToken, c.scope(), c.Audience, c.ID
		out.AuthorizationDetails = c.AuthorizationDetails
		out.IssuedAt, out.ExpiresAt = time.Unix(c.IssuedAt, 0).UTC(), time.Unix(c.Expiry, 0).UTC()
		out.Subject = c.Subject
		out.Confirmation = t.access.cnf
	default:
		at := t.access.at
		if at.Subject != g.Subject {
			return nil, nil
		}
		out.Kind, out.Scope, out.IssuedAt, out.ExpiresAt = KindAccessToken, oauth.Scope(at.Scope), at.CreatedAt, at.ExpiresAt
		out.Confirmation = at.Confirmation
		out.Audience = g.Audience
		if len(out.Audience) == 0 {
			out.Audience = []string{s.Config.withDefaults().Issuer}
		}
	}
	if out.Kind == KindAccessToken && out.JTI == "" || out.Kind == KindRefreshToken {
		// Identifier access tokens and refresh tokens carry no subject of
		// their own: give the one a self-contained token would carry, so
		// that a pairwise subject is never exposed as the public one.
		client, err := s.Clients.Get(ctx, g.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, s.serverError(ctx, "get client", err)
		}
		if out.Kind == KindAccessToken {
			out.Subject = s.accessTokenSubject(client, g, s.spec(g.Tokens))
		} else {
			out.Subject = s.clientSubject(client, g.Subject)
		}
	}
	if s.spec(g.Tokens).AccessTokenSubjectType == subTypePairwise && out.Kind == KindAccessToken {
		out.SubjectType = subTypePairwise
	}
	return out, nil
}

// Members returns the RFC 7662 §2.2 members of an active token: active,
// scope, client_id, sub, exp, iat, iss, aud, token_type ("Bearer", access
// tokens only), jti (self-contained access tokens only), and the custom
// members auth_time, acr and amr of the authorisation, and Connect2id's
// "dat" (the consent's data), "cld" (claims data) and "sub_type" (PAIRWISE
// only) when set.
func (in *Introspection) Members(issuer string) map[string]any {
	m := map[string]any{
		"active":    true,
		"client_id": in.ClientID,
		"sub":       in.Subject,
		"iat":       in.IssuedAt.Unix(),
		"iss":       issuer,
	}
	if len(in.Scope) > 0 {
		m["scope"] = in.Scope.String()
	}
	if !in.ExpiresAt.IsZero() {
		m["exp"] = in.ExpiresAt.Unix()
	}
	if in.Kind == KindAccessToken {
		m["token_type"] = tokenType(in.Confirmation)
		m["aud"] = in.Audience
	}
	if !in.Confirmation.IsZero() {
		m["cnf"] = in.Confirmation
	}
	if in.JTI != "" {
		m["jti"] = in.JTI
	}
	if g := in.Grant; g != nil {
		if !g.AuthTime.IsZero() {
			m["auth_time"] = g.AuthTime.Unix()
		}
		if g.ACR != "" {
			m["acr"] = g.ACR
		}
		if len(g.AMR) > 0 {
			m["amr"] = g.AMR
		}
		if len(g.Data) > 0 {
			m["dat"] = g.Data
		}
		if len(g.ClaimsData) > 0 {
			m["cld"] = g.ClaimsData
		}
	}
	if in.SubjectType != "" {
		m["sub_type"] = in.SubjectType
	}
	if len(in.AuthorizationDetails) > 0 {
		m["authorization_details"] = in.AuthorizationDetails
	}
	return m
}

// IntrospectionCaller is who asks the introspection endpoint: an
// authenticated client, or (Client nil) a holder of an introspection API
// token.
type IntrospectionCaller struct {
	Client *store.Client
}

// inactive is the one answer for every token the caller may not see or
// that is not live (RFC 7662 §2.2): nothing tells the cases apart.
func inactive() map[string]any { return map[string]any{"active": false} }

// Introspect is the token introspection endpoint (RFC 7662 §2.1–2.2). A
// client sees the tokens issued to it; a client registered with
// introspection_allowed (a resource server) and a bearer caller see any
// token. Everything else, and every inactive token, is exactly
// {"active": false}. The hint only orders the lookups.
func (s *Service) Introspect(ctx context.Context, caller IntrospectionCaller, value, hint string) (map[string]any, error) {
	in, err := s.inspect(ctx, value, hint)
	if err != nil {
		return nil, err
	}
	if in == nil {
		return inactive(), nil
	}
	if c := caller.Client; c != nil && !c.Metadata.IntrospectionAllowed && c.ID != in.ClientID {
		return inactive(), nil
	}
	return in.Members(s.Config.withDefaults().Issuer), nil
}

// TypeIntrospectionJWT is the "typ" of a JWT introspection response
// (RFC 9701 §5).
const TypeIntrospectionJWT = "token-introspection+jwt"

// IntrospectionJWT signs members (Introspect's answer) as the JWT response
// of RFC 9701 §5: iss, aud (the calling client, or the issuer for a bearer
// caller), iat and token_introspection, with the ID-token algorithm
// (Config.IDTokenAlg), and "typ" token-introspection+jwt.
func (s *Service) IntrospectionJWT(ctx context.Context, caller IntrospectionCaller, members map[string]any) (string, error) {
	cfg := s.Config.withDefaults()
	aud := cfg.Issuer
	if caller.Client != nil {
		aud = caller.Client.ID
	}
	claims := map[string]any{
		"iss":                 cfg.Issuer,
		"aud":                 aud,
		"iat":                 s.now().Unix(),
		"token_introspection": maps.Clone(members),
	}
	v, err := s.Keys.Sign(cfg.IDTokenAlg, TypeIntrospectionJWT, claims)
	if err != nil {
		return "", s.serverError(ctx, "sign introspection response", err)
	}
	return v, nil
}
