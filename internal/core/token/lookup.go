package token

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
)

// AccessTokenGrant returns the grant behind a valid access token, checked
// exactly as UserInfo checks it (a self-contained token by signature,
// issuer and expiry; an identifier token by its stored digest), or an
// error wrapping store.ErrNotFound when the token is malformed, foreign,
// expired or revoked. It is for the integration APIs that inspect tokens
// on an operator's behalf; scope is not judged.
func (s *Service) AccessTokenGrant(ctx context.Context, value string) (*store.Grant, error) {
	now := s.now()
	b, err := s.checkAccessToken(ctx, value, now)
	if err != nil {
		if errors.Is(err, errBadToken()) {
			return nil, errTokenNotFound
		}
		return nil, err
	}
	if b.grantID == "" {
		return nil, errTokenNotFound // stateless: no grant behind it
	}
	g, err := s.Grants.Get(ctx, b.grantID, now)
	if err != nil {
		return nil, err
	}
	if g.ClientID != b.clientID {
		return nil, errTokenNotFound
	}
	if _, ok, err := s.bearerSubjectOK(ctx, g, b); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return nil, errTokenNotFound
	}
	return g, nil
}

// RefreshTokenGrant returns the grant behind a usable refresh token, or an
// error wrapping store.ErrNotFound when the token is unknown, expired,
// rotated (a rotated token is never usable on its own) or revoked.
func (s *Service) RefreshTokenGrant(ctx context.Context, value string) (*store.Grant, error) {
	now := s.now()
	if value == "" || len(value) > maxAssertionLen {
		return nil, errTokenNotFound
	}
	rt, err := s.RefreshTokens.Get(ctx, secret.Hash(value), now)
	if err != nil {
		return nil, err
	}
	if !rt.RotatedAt.IsZero() {
		return nil, errTokenNotFound
	}
	g, err := s.Grants.Get(ctx, rt.GrantID, now)
	if err != nil {
		return nil, err
	}
	if spec := s.spec(g.Tokens); spec.RefreshTokenMaxIdle > 0 && now.Sub(lastUse(rt)) > spec.RefreshTokenMaxIdle {
		return nil, errTokenNotFound
	}
	if g.ClientID != rt.ClientID {
		return nil, errTokenNotFound
	}
	return g, nil
}

var errTokenNotFound = fmt.Errorf("token invalid, expired or revoked: %w", store.ErrNotFound)
