package authz

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// frontChannel mints the tokens of an implicit or hybrid response (OIDC
// Core §3.2.2.5, §3.3.2.5) through the token service, so that they follow
// the token endpoint's lifetime and encoding rules, and adds them to resp.
// An access token hangs off a grant of its own, stored now and expiring
// with it; a code issued alongside creates its own grant when redeemed.
// With response_type=id_token no access token can fetch UserInfo, so every
// consented claim goes into the ID token (OIDC Core §5.4).
func (s *Service) frontChannel(ctx context.Context, a *store.AuthzSession, c *store.Client, g store.Grant, code string, resp url.Values) error {
	if s.Tokens == nil {
		return errors.New("front-channel tokens: no token issuer")
	}
	rt := a.Request.ResponseType
	fc := token.FrontChannel{
		AccessToken: slices.Contains(rt, oauth.ResponseTypeToken),
		IDToken:     slices.Contains(rt, oauth.ResponseTypeIDToken),
		Nonce:       a.Request.Nonce,
		Code:        code,
	}
	g.Claims = slices.Clone(g.Claims)
	if fc.AccessToken {
		id, err := secret.Token(s.Rand, 16)
		if err != nil {
			return fmt.Errorf("front-channel tokens: %w", err)
		}
		g.ID = id
	} else if code == "" {
		for i, n := range g.Claims {
			if !strings.HasPrefix(n, claims.IDTokenPrefix) {
				g.Claims[i] = claims.IDTokenPrefix + n
			}
		}
	}
	tr, err := s.Tokens.IssueFrontChannel(ctx, c, &g, fc)
	if err != nil {
		return err
	}
	if fc.AccessToken {
		resp.Set("access_token", tr.AccessToken)
		resp.Set("token_type", tr.TokenType)
		resp.Set("expires_in", strconv.FormatInt(tr.ExpiresIn, 10))
		if tr.Scope != "" {
			resp.Set("scope", tr.Scope)
		}
	}
	if fc.IDToken {
		resp.Set("id_token", tr.IDToken)
	}
	return nil
}
