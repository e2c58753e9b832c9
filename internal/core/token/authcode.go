package token

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// authCodeGrant redeems authorisation codes (RFC 6749 §4.1.3, RFC 7636
// §4.6). Public clients may use it.
type authCodeGrant struct{ s *Service }

func (authCodeGrant) Type() string             { return oauth.GrantTypeAuthorizationCode }
func (authCodeGrant) RequiresClientAuth() bool { return false }

// Authorize consumes the code before judging the request, so that any
// mismatch (client, redirect_uri, PKCE) burns it: whoever presents a code
// with the wrong bindings may have stolen it, so it gets no second try. A
// replayed code revokes everything the first redemption issued by deleting
// its grant (RFC 6749 §4.1.2, §10.5).
func (g authCodeGrant) Authorize(ctx context.Context, req *Request, c *store.Client) (*Decision, error) {
	s := g.s
	value := req.Form.Get("code")
	if value == "" {
		return nil, oauth.InvalidRequest("missing code")
	}
	code, err := s.Codes.Consume(ctx, secret.Hash(value), req.Now)
	switch {
	case errors.Is(err, store.ErrConsumed):
		if code != nil && code.GrantID != "" {
			// Mark first, then delete: a first redemption still between
			// consuming the code and storing its grant sees the mark and
			// fails, so no replay can leave tokens standing.
			if _, merr := s.markUsed(ctx, revocationMark(code.GrantID), markUntil(code), req.Now); merr != nil {
				return nil, s.serverError(ctx, "mark grant of replayed code", merr)
			}
			if derr := s.Grants.Delete(ctx, code.GrantID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				return nil, s.serverError(ctx, "revoke grant of replayed code", derr)
			}
		}
		s.log().WarnContext(ctx, "authorization code replayed; grant revoked", "client_id", c.ID)
		return nil, oauth.InvalidGrant("invalid authorization code")
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.InvalidGrant("invalid authorization code")
	case err != nil:
		return nil, s.serverError(ctx, "consume code", err)
	}

	if code.ClientID != c.ID {
		return nil, oauth.InvalidGrant("the code was issued to another client")
	}
	if code.RedirectURI != "" && req.Form.Get("redirect_uri") != code.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	if err := checkPKCE(code.CodeChallenge, code.CodeChallengeMethod, req.Form.Get("code_verifier"), req.Form.Has("code_verifier")); err != nil {
		return nil, err
	}
	if err := checkDPoPJKT(code.DPoPJKT, req); err != nil {
		return nil, err
	}

	gr := code.Grant
	gr.ID = code.GrantID
	gr.ClientID = code.ClientID
	d := s.newGrantDecision(req.Now, &gr)
	d.Nonce = code.Nonce
	d.RevocationMark, d.RevocationMarkUntil = revocationMark(gr.ID), markUntil(code)
	return d, nil
}

// newGrantDecision decides the first tokens of a new grant: an ID token
// for openid with the consent's preset ID-token claims, a refresh token
// when the consent asks for one, the grant expiring with it, and the access
// token capped by the refresh token's lifetime and idle window. It sets the
// grant's CreatedAt and ExpiresAt.
func (s *Service) newGrantDecision(now time.Time, gr *store.Grant) *Decision {
	gr.CreatedAt = now
	gr.Scope = slices.Clone(gr.Scope)
	spec := s.spec(gr.Tokens)
	gr.ExpiresAt = grantExpiry(now, spec)
	return &Decision{
		Grant:                 gr,
		Create:                true,
		IDToken:               oauth.Scope(gr.Scope).Contains(oauth.ScopeOpenID),
		PresetIDTokenClaims:   true,
		IssueRefreshToken:     spec.IssueRefreshToken,
		RefreshTokenExpiresAt: refreshExpiry(now, spec),
		NotAfter:              idleCap(now, spec),
	}
}

// revocationMark is the replay-cache key that records that a code's grant
// must not stand.
func revocationMark(grantID string) string { return "revoked_grant:" + grantID }

// markUntil keeps the mark while the code can still be presented, with a
// margin for the redemption in flight.
func markUntil(c *store.Code) time.Time { return c.ExpiresAt.Add(time.Minute) }

// grantExpiry is when nothing issued under a new grant can be valid any
// more: the refresh token's expiry, zero for a non-expiring one, or — with
// no refresh token — the access token's, so the record can be purged.
func grantExpiry(now time.Time, spec store.TokenSpec) time.Time {
	if spec.IssueRefreshToken {
		return refreshExpiry(now, spec)
	}
	return now.Add(spec.AccessTokenLifetime)
}

func refreshExpiry(now time.Time, spec store.TokenSpec) time.Time {
	if !spec.IssueRefreshToken || spec.RefreshTokenLifetime <= 0 {
		return time.Time{}
	}
	return now.Add(spec.RefreshTokenLifetime)
}

// idleCap keeps an access token inside the refresh token's idle window.
func idleCap(now time.Time, spec store.TokenSpec) time.Time {
	if !spec.IssueRefreshToken || spec.RefreshTokenMaxIdle <= 0 {
		return time.Time{}
	}
	return now.Add(spec.RefreshTokenMaxIdle)
}

// checkPKCE verifies the code_verifier against the code's challenge
// (RFC 7636 §4.6). A verifier is required iff a challenge was given; every
// failure is invalid_grant.
func checkPKCE(challenge, method, verifier string, hasVerifier bool) error {
	if challenge == "" {
		if hasVerifier {
			return oauth.InvalidGrant("code_verifier given but no code_challenge was")
		}
		return nil
	}
	if !hasVerifier {
		return oauth.InvalidGrant("missing code_verifier")
	}
	if !validVerifier(verifier) {
		return oauth.InvalidGrant("malformed code_verifier")
	}
	var computed string
	switch method {
	case oauth.PKCEMethodS256:
		sum := sha256.Sum256([]byte(verifier))
		computed = base64.RawURLEncoding.EncodeToString(sum[:])
	case oauth.PKCEMethodPlain, "":
		computed = verifier
	default:
		return oauth.InvalidGrant("unsupported code_challenge_method")
	}
	if !secret.Equal([]byte(computed), []byte(challenge)) {
		return oauth.InvalidGrant("code_verifier does not match the code_challenge")
	}
	return nil
}

// validVerifier checks RFC 7636 §4.1: 43–128 characters of
// ALPHA / DIGIT / "-" / "." / "_" / "~".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
