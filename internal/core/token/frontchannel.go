package token

import (
	"context"
	"errors"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// FrontChannel says which tokens the authorisation endpoint returns in an
// implicit or hybrid response (OIDC Core §3.2.2.5, §3.3.2.5).
type FrontChannel struct {
	// AccessToken issues an access token; the grant is then stored.
	AccessToken bool
	// IDToken issues an ID token with Nonce, carrying at_hash when an
	// access token is issued too and c_hash when Code is set.
	IDToken bool
	Nonce   string
	// Code is the authorisation code of a hybrid response, for c_hash.
	Code string
}

// IssueFrontChannel mints the tokens of an implicit or hybrid
// authorisation response for the consented grant g. An access token gets
// the lifetime, encoding and claims the token endpoint would give it for
// the same grant (newGrantDecision and mint are shared), but never a
// refresh token (OIDC Core §3.2.2.5; RFC 6749 §4.2.2): the grant is
// stored, expiring with the access token, so that UserInfo, introspection
// and revocation treat the token like any other. Without an access token
// nothing is stored, and the ID token carries the consented claims the
// caller marked for it (OIDC Core §5.4). g.Subject and g.ClientID must be
// set, and g.ID when an access token is asked for.
func (s *Service) IssueFrontChannel(ctx context.Context, client *store.Client, g *store.Grant, fc FrontChannel) (*Response, error) {
	if g == nil || client == nil || g.ClientID != client.ID || g.Subject == "" || (fc.AccessToken && g.ID == "") {
		return nil, errors.New("issue front-channel tokens: incomplete grant")
	}
	if !fc.AccessToken && !fc.IDToken {
		return nil, errors.New("issue front-channel tokens: nothing to issue")
	}
	now := s.now()
	g.Tokens.IssueRefreshToken = false
	d := s.newGrantDecision(now, g)
	d.IssueRefreshToken = false
	d.Nonce, d.Code = fc.Nonce, fc.Code
	resp := &Response{}
	if fc.AccessToken {
		d.IDToken = false
		r, err := s.mint(ctx, now, client, d)
		if err != nil {
			return nil, s.frontChannelError(ctx, err)
		}
		resp = r
	}
	if fc.IDToken {
		idt, err := s.mintIDToken(ctx, now, client, g, s.spec(g.Tokens), d, resp.AccessToken)
		if err != nil {
			if fc.AccessToken {
				// The access token is never delivered: its grant goes.
				if derr := s.Grants.Delete(ctx, g.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
					s.log().WarnContext(ctx, "remove the grant of an undelivered access token", "grant_id", g.ID, "err", derr)
				}
			}
			return nil, s.frontChannelError(ctx, err)
		}
		resp.IDToken = idt
	}
	s.log().InfoContext(ctx, "token issued", "client_id", client.ID, "grant_type", "front_channel",
		"grant_id", g.ID, "access_token", fc.AccessToken, "id_token", fc.IDToken)
	return resp, nil
}

func (s *Service) frontChannelError(ctx context.Context, err error) error {
	if oauth.AsError(err) != nil {
		return err
	}
	return s.serverError(ctx, "issue front-channel tokens", err)
}
