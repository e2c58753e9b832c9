package token

import (
	"context"
	"errors"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// refreshGrant exchanges refresh tokens (RFC 6749 §6). Public clients may
// use it.
type refreshGrant struct{ s *Service }

func (refreshGrant) Type() string             { return oauth.GrantTypeRefreshToken }
func (refreshGrant) RequiresClientAuth() bool { return false }

// errBadRefresh is the one answer to every unusable refresh token, so that
// the response does not tell an unknown token from another client's.
func errBadRefresh() *oauth.Error { return oauth.InvalidGrant("invalid refresh token") }

// Authorize checks the refresh token and decides the new tokens.
//
// A token that is unknown, expired, idle for longer than the grant's
// RefreshTokenMaxIdle, or issued to another client is invalid_grant (also
// across clients: RFC 6749 §5.2, conformance module oidcc-refresh-token).
// With rotation the token is exchanged for a successor; presenting a rotated
// token again is a replay that revokes the whole grant (RFC 9700 §4.14.2),
// unless it falls within Config.RotatedReuseGrace.
//
// An ID token is issued again when the grant's original scope had openid
// and the consent allowed ID-token refresh (AllowIDTokenRefresh); the
// narrowed scope of this request does not matter, so a client cannot lose
// its ID token by asking for less. It carries no nonce and no preset
// ID-token claims (OIDC Core §12.2).
func (g refreshGrant) Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error) {
	s := g.s
	value := req.Form.Get("refresh_token")
	if value == "" {
		return nil, oauth.InvalidRequest("missing refresh_token")
	}
	id := secret.Hash(value)
	rt, err := s.RefreshTokens.Get(ctx, id, req.Now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadRefresh()
	}
	if err != nil {
		return nil, s.serverError(ctx, "get refresh token", err)
	}
	if rt.ClientID != c.ID {
		return nil, errBadRefresh()
	}
	gr, err := s.Grants.Get(ctx, rt.GrantID, req.Now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadRefresh()
	}
	if err != nil {
		return nil, s.serverError(ctx, "get grant", err)
	}
	if gr.ClientID != c.ID {
		return nil, errBadRefresh()
	}
	if err := checkRefreshBinding(gr, req); err != nil {
		return nil, err
	}
	spec := s.spec(gr.Tokens)

	scope := oauth.Scope(gr.Scope)
	if req.Form.Has("scope") {
		asked := oauth.ParseScope(req.Form.Get("scope"))
		for _, tok := range asked {
			if !oauth.ValidScopeToken(tok) {
				return nil, oauth.InvalidScope("malformed scope")
			}
		}
		if len(asked) == 0 || !asked.SubsetOf(scope) {
			return nil, oauth.InvalidScope("the scope may only narrow the original grant")
		}
		scope = asked
	}

	d := &Decision{
		Grant:                 gr,
		Scope:                 scope,
		IDToken:               spec.AllowIDTokenRefresh && oauth.Scope(gr.Scope).Contains(oauth.ScopeOpenID),
		RefreshTokenExpiresAt: rt.ExpiresAt,
		NotAfter:              earliest(rt.ExpiresAt, idleFrom(req.Now, spec)),
	}

	if !rt.RotatedAt.IsZero() {
		return g.reuse(ctx, req.Now, rt, d)
	}
	if last := lastUse(rt); spec.RefreshTokenMaxIdle > 0 && req.Now.Sub(last) > spec.RefreshTokenMaxIdle {
		return nil, errBadRefresh()
	}
	if !spec.RotateRefreshToken {
		if err := s.RefreshTokens.Touch(ctx, id, req.Now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, errBadRefresh()
			}
			return nil, s.serverError(ctx, "touch refresh token", err)
		}
		return d, nil
	}

	next, nextRec, err := g.successor(req.Now, rt)
	if err != nil {
		return nil, s.serverError(ctx, "new refresh token", err)
	}
	stored, err := s.RefreshTokens.Rotate(ctx, id, req.Now, nextRec)
	switch {
	case errors.Is(err, store.ErrConsumed):
		// Lost a race with another exchange of the same token: a replay.
		if stored == nil {
			stored = rt
		}
		return g.reuse(ctx, req.Now, stored, d)
	case errors.Is(err, store.ErrNotFound):
		return nil, errBadRefresh()
	case err != nil:
		return nil, s.serverError(ctx, "rotate refresh token", err)
	}
	d.RefreshToken = next
	return d, nil
}

// reuse handles a rotated token presented again: inside the grace period
// the client gets a fresh successor (its retry lost the first one);
// otherwise the grant and every token under it are revoked.
func (g refreshGrant) reuse(ctx context.Context, now time.Time, rt *store.RefreshToken, d *Decision) (*Decision, error) {
	s := g.s
	grace := s.Config.RotatedReuseGrace
	if grace > 0 && !rt.RotatedAt.IsZero() && now.Sub(rt.RotatedAt) <= grace {
		s.log().InfoContext(ctx, "rotated refresh token reused within grace", "client_id", rt.ClientID, "grant_id", rt.GrantID)
		d.IssueRefreshToken = true
		return d, nil
	}
	if err := s.Grants.Delete(ctx, rt.GrantID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.serverError(ctx, "revoke grant of replayed refresh token", err)
	}
	s.log().WarnContext(ctx, "rotated refresh token replayed; grant revoked", "client_id", rt.ClientID, "grant_id", rt.GrantID)
	return nil, errBadRefresh()
}

// successor mints the next refresh token of a rotation. It keeps the
// family's expiry: rotation never extends a grant, or a client could keep
// one alive forever.
func (g refreshGrant) successor(now time.Time, rt *store.RefreshToken) (string, *store.RefreshToken, error) {
	v, err := g.s.newToken()
	if err != nil {
		return "", nil, err
	}
	return v, &store.RefreshToken{
		ID: secret.Hash(v), GrantID: rt.GrantID, ClientID: rt.ClientID,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: rt.ExpiresAt,
	}, nil
}

func lastUse(rt *store.RefreshToken) time.Time {
	if rt.LastUsedAt.After(rt.CreatedAt) {
		return rt.LastUsedAt
	}
	return rt.CreatedAt
}

func idleFrom(now time.Time, spec store.TokenSpec) time.Time {
	if spec.RefreshTokenMaxIdle <= 0 {
		return time.Time{}
	}
	return now.Add(spec.RefreshTokenMaxIdle)
}
