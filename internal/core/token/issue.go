package token

import (
	"context"
	"errors"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Issue mints the first tokens of a new grant decided outside the token
// endpoint — the direct authorisation API — exactly as redeeming an
// authorisation code for the same grant would (newGrantDecision), except
// that withIDToken false withholds the ID token. g.ID, Subject, ClientID,
// Consented, Tokens and the authentication members must be set; the grant
// is stored before the tokens are minted.
func (s *Service) Issue(ctx context.Context, client *store.Client, g *store.Grant, withIDToken bool) (*Response, error) {
	if g == nil || client == nil || g.ClientID != client.ID || g.ID == "" || g.Subject == "" {
		return nil, errors.New("issue tokens: incomplete grant")
	}
	now := s.now()
	d := s.newGrantDecision(now, g)
	d.IDToken = d.IDToken && withIDToken
	resp, err := s.mint(ctx, now, client, d)
	if err != nil {
		if oauth.AsError(err) != nil {
			return nil, err
		}
		return nil, s.serverError(ctx, "issue tokens", err)
	}
	s.log().InfoContext(ctx, "token issued", "client_id", client.ID, "grant_type", "direct", "grant_id", g.ID)
	return resp, nil
}
