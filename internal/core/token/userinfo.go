package token

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// bearer is what an access token stands for once checked.
type bearer struct {
	grantID  string
	clientID string
	subject  string
	scope    oauth.Scope
	// jwt holds the claims of a self-contained token; at the stored
	// record of an identifier one.
	jwt *accessClaims
	at  *store.AccessToken
	// cnf is what the token is bound to (sender.go).
	cnf store.Confirmation
}

func errBadToken() *oauth.Error {
	return oauth.InvalidToken("the access token is invalid, expired or revoked")
}

// UserInfo answers a UserInfo request (OIDC Core §5.3) for the bearer
// access token value (RFC 6750 §2; the HTTP layer extracts it from the
// header or the form).
//
// A self-contained token must be ours ("typ" at+jwt, our issuer, signed
// with Config.AccessTokenAlg, unexpired); any other value is looked up as
// an identifier token. Either way its grant must still exist, so revoking
// a grant (code replay, refresh replay, logout) also kills JWT access
// tokens, and a self-contained one must not match an entry of the
// revocation journal (Service.Journal) written after it was issued. The token's "aud" is not checked: the grant and the openid scope
// are the authority here.
//
// Errors: invalid_token (401) for a bad, expired or revoked token,
// insufficient_scope (403) without "openid", server_error (logged, never
// detailed) when a store or claims source fails. The result always holds
// "sub", which no claims source or preset can replace.
func (s *Service) UserInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	return s.UserInfoPresented(ctx, Presentation{Token: accessToken, Scheme: oauth.TokenTypeBearer})
}

// UserInfoPresented is UserInfo for a token presented as p: a DPoP-bound
// token must come with the DPoP scheme and a proof of its key (RFC 9449
// §7), a certificate-bound one over a connection with its certificate
// (RFC 8705 §3). Besides UserInfo's errors: invalid_dpop_proof (401) for a
// bad proof, use_dpop_nonce (401) when a nonce is required, and
// invalid_token challenging with DPoP for a bound token without its proof
// or with another key's.
func (s *Service) UserInfoPresented(ctx context.Context, p Presentation) (map[string]any, error) {
	now := s.now()
	b, err := s.checkAccessToken(ctx, p.Token, now)
	if err != nil {
		if oe := oauth.AsError(err); oe != nil && p.Scheme == dpop.Scheme && oe.Code == oauth.ErrCodeInvalidToken {
			return nil, oe.WithScheme(dpop.Scheme)
		}
		return nil, err
	}
	if err := s.checkSender(ctx, b, p); err != nil {
		return nil, err
	}
	if b.grantID == "" {
		// A stateless (client credentials) token has no end-user.
		return nil, oauth.InsufficientScope("the access token is not for an end-user")
	}
	g, err := s.Grants.Get(ctx, b.grantID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadToken()
	}
	if err != nil {
		return nil, s.serverError(ctx, "get grant", err)
	}
	if g.ClientID != b.clientID {
		return nil, errBadToken()
	}
	client, ok, err := s.bearerSubjectOK(ctx, g, b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errBadToken()
	}
	if !b.scope.Contains(oauth.ScopeOpenID) {
		return nil, oauth.InsufficientScope("the access token lacks the openid scope")
	}

	out := map[string]any{}
	_, names := claims.Split(g.Claims, nil)
	if len(names) > 0 && s.Claims != nil {
		got, err := s.Claims.Get(ctx, s.claimsRequest(g, names, oauth.ClaimsTransportUserInfo))
		if err != nil {
			// A source under on_error: fail is down: temporarily_unavailable
			// (the resolver's *oauth.Error); sources under on_error: omit
			// never get here, their claims are simply left out.
			var oe *oauth.Error
			if errors.As(err, &oe) {
				return nil, oe
			}
			return nil, s.serverError(ctx, "get userinfo claims", err)
		}
		maps.Copy(out, got)
	}
	maps.Copy(out, g.PresetUserInfoClaims)
	// The subject the client knows, as in its ID token (OIDC Core §5.3.2):
	// pairwise for a pairwise client, whatever subject type the access
	// token itself carries. An impersonating ID token's subject is not
	// used: UserInfo answers for the subject who authenticated.
	out["sub"] = s.clientSubject(client, g.Subject)
	return out, nil
}

// bearerSubjectOK checks that the token's subject is the one minted for
// the grant: the grant's subject for an identifier token; for a
// self-contained one, the (possibly pairwise) subject accessTokenSubject
// derives, which maps a pairwise subject back to the grant. It returns the
// grant's client (nil if it is gone, which fails the check).
func (s *Service) bearerSubjectOK(ctx context.Context, g *store.Grant, b *bearer) (*store.Client, bool, error) {
	client, err := s.Clients.Get(ctx, g.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.serverError(ctx, "get client", err)
	}
	if b.jwt == nil {
		return client, b.subject == g.Subject, nil
	}
	return client, b.subject == s.accessTokenSubject(client, g, s.spec(g.Tokens)), nil
}

// checkAccessToken validates the token itself, without its grant.
func (s *Service) checkAccessToken(ctx context.Context, v string, now time.Time) (*bearer, error) {
	if v == "" || len(v) > maxAssertionLen {
		return nil, errBadToken()
	}
	switch strings.Count(v, ".") {
	case 2:
		return s.checkJWT(v, now)
	case 4:
		// An encrypted access token (JWE, RFC 7516 §7.1) nesting our JWS.
		if s.Encrypter == nil {
			return nil, errBadToken()
		}
		jws, err := s.Encrypter.Decrypt(v)
		if err != nil || strings.Count(jws, ".") != 2 {
			return nil, errBadToken()
		}
		return s.checkJWT(jws, now)
	}
	at, err := s.AccessTokens.Get(ctx, secret.Hash(v), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBadToken()
	}
	if err != nil {
		return nil, s.serverError(ctx, "get access token", err)
	}
	if !now.Before(at.ExpiresAt) {
		return nil, errBadToken()
	}
	return &bearer{grantID: at.GrantID, clientID: at.ClientID, subject: at.Subject, scope: at.Scope, at: at, cnf: at.Confirmation}, nil
}

// checkJWT validates a self-contained access token: ours, unexpired and
// not revoked through the journal.
func (s *Service) checkJWT(v string, now time.Time) (*bearer, error) {
	cfg := s.Config.withDefaults()
	h, ok := jwsHeader(v)
	if !ok || !typIs(h.Typ, TypeAccessTokenJWT) || h.Alg != cfg.AccessTokenAlg {
		return nil, errBadToken()
	}
	payload, err := s.Keys.Verify(v, []string{cfg.AccessTokenAlg})
	if err != nil {
		return nil, errBadToken().WithCause(err)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errBadToken().WithCause(err)
	}
	// An empty gid marks a stateless token (Decision.Stateless): ours by
	// its signature, with no grant to look up.
	if c.Issuer != cfg.Issuer || c.Subject == "" || c.clientID() == "" || now.Unix() >= c.Expiry {
		return nil, errBadToken()
	}
	if s.Journal != nil {
		f := tokenFacts{subject: c.Subject, clientID: c.clientID(), jti: c.ID, issuedAt: c.IssuedAt}
		if c.Actor != nil {
			f.actor = c.Actor.Subject
		}
		if s.Journal.revoked(f, now) {
			return nil, errBadToken()
		}
	}
	b := &bearer{grantID: c.GrantID, clientID: c.clientID(), subject: c.Subject, scope: c.scope(), jwt: &c}
	if c.Cnf != nil {
		b.cnf = *c.Cnf
	}
	return b, nil
}
