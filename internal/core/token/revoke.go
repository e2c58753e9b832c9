package token

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// RevocationRequest says what Revoke revokes: Token alone (an access or
// refresh token value), or Actor alone, or Subject, ClientID or both (the
// authorisations of a subject, of a client, or of the one subject and
// client). It mirrors the parameters of Connect2id's authorisation store
// revocation resource (subject, client_id, actor, token;
// https://connect2id.com/products/server/docs/api/authz-store#revocation).
type RevocationRequest struct {
	Subject  string
	ClientID string
	Actor    string
	Token    string
}

// RevocationResult is what Revoke removed.
type RevocationResult struct {
	// Authorizations are the long-lived authorisations it deleted, as they
	// were (Connect2id's v3 revocation answers with them).
	Authorizations []*store.Authorization
	// Grants is how many issued grants (with their refresh and identifier
	// access tokens) it deleted.
	Grants int
}

// maxRevocationValue bounds a subject, client ID or actor to revoke; none
// of ours is longer, and the value goes into the journal.
const maxRevocationValue = 1024

// Revoke revokes, across the cluster, what r names; it is the entry point
// of the authorisation store API's revocation resource.
//
// By Subject, ClientID or both it writes a revocation journal entry first,
// so that every self-contained access token issued to them at or before
// now is refused by UserInfo and introspection on every node (this node at
// once, the others within the journal's propagation bound, see Journal);
// then it deletes their issued grants (store.GrantStore.DeleteMatching: the
// refresh tokens and identifier access tokens go with them, so refresh
// fails at /token) and their long-lived authorisations, as Connect2id's
// revocation does. By Actor it writes the journal entry only: no stored
// record names an actor. By Token it revokes that one token as RevokeToken
// does, without the client check. An unknown token is not an error.
//
// Errors: invalid_request for an empty or contradictory request or a value
// that cannot be a subject, client ID or actor; server_error (logged) for
// store failures. Concurrent revocations of the same things all succeed.
func (s *Service) Revoke(ctx context.Context, r RevocationRequest) (*RevocationResult, error) {
	now := s.now()
	res := &RevocationResult{}
	if r.Token != "" {
		if r.Subject != "" || r.ClientID != "" || r.Actor != "" {
			return nil, oauth.InvalidRequest("a token cannot be combined with subject, client_id or actor")
		}
		t, err := s.findToken(ctx, r.Token, "", now)
		if err != nil || t == nil {
			return res, err
		}
		n, err := s.revokeFound(ctx, t, now)
		res.Grants = n
		return res, err
	}
	for name, v := range map[string]string{"subject": r.Subject, "client_id": r.ClientID, "actor": r.Actor} {
		if len(v) > maxRevocationValue || !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return nil, oauth.InvalidRequest("malformed " + name)
		}
	}
	entry := &store.Revocation{Subject: r.Subject, ClientID: r.ClientID, Actor: r.Actor, RevokedAt: now}
	switch {
	case r.Actor != "" && (r.Subject != "" || r.ClientID != ""):
		return nil, oauth.InvalidRequest("actor cannot be combined with subject or client_id")
	case r.Actor != "":
		entry.Kind = store.RevokeActor
	case r.Subject != "" && r.ClientID != "":
		entry.Kind = store.RevokeAuthorization
	case r.Subject != "":
		entry.Kind = store.RevokeSubject
	case r.ClientID != "":
		entry.Kind = store.RevokeClient
	default:
		return nil, oauth.InvalidRequest("nothing to revoke: give subject, client_id, actor or a token")
	}

	filter := store.GrantFilter{Subject: r.Subject, ClientID: r.ClientID}
	longest := s.Config.withDefaults().Defaults.AccessTokenLifetime
	if entry.Kind != store.RevokeActor {
		// The entry must outlive every access token it can match: those of
		// the grants about to go, with their own lifetimes.
		grants, err := s.Grants.List(ctx, filter, now)
		if err != nil {
			return nil, s.serverError(ctx, "list grants to revoke", err)
		}
		for _, g := range grants {
			longest = max(longest, g.Tokens.AccessTokenLifetime)
		}
	}
	entry.ExpiresAt = now.Add(longest)
	if err := s.addRevocation(ctx, entry); err != nil {
		return nil, err
	}
	if entry.Kind == store.RevokeActor {
		return res, nil
	}

	n, err := s.Grants.DeleteMatching(ctx, filter)
	if err != nil {
		return nil, s.serverError(ctx, "delete grants", err)
	}
	res.Grants = n
	auths, err := s.Authorizations.List(ctx, r.Subject, r.ClientID)
	if err != nil {
		return nil, s.serverError(ctx, "list authorizations", err)
	}
	for _, a := range auths {
		err := s.Authorizations.Delete(ctx, a.Subject, a.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue // a concurrent revocation took it
		}
		if err != nil {
			return nil, s.serverError(ctx, "delete authorization", err)
		}
		res.Authorizations = append(res.Authorizations, a)
	}
	s.log().InfoContext(ctx, "revoked", "kind", string(entry.Kind), "subject", r.Subject, "client_id", r.ClientID,
		"grants", res.Grants, "authorizations", len(res.Authorizations))
	return res, nil
}

// RevokeToken is the token revocation endpoint (RFC 7009 §2.1) for an
// authenticated client: it revokes the refresh or access token value.
// The hint (token_type_hint) only orders the lookups: a wrong hint still
// finds the token (§2.1).
//
// A refresh token ends its grant: its access tokens (self-contained ones
// through the grant check), its other refresh tokens and, when the grant
// was long-lived, the long-lived authorisation behind it. An identifier
// access token is deleted; a self-contained one is entered in the
// revocation journal until it expires. An unknown, invalid or expired
// token is not an error (§2.2). A token issued to another client is
// unauthorized_client (400) and stays valid (§2.1).
func (s *Service) RevokeToken(ctx context.Context, client *store.Client, value, hint string) error {
	now := s.now()
	t, err := s.findToken(ctx, value, hint, now)
	if err != nil || t == nil {
		return err
	}
	if t.clientID() != client.ID {
		return oauth.UnauthorizedClient("the token was not issued to this client")
	}
	_, err = s.revokeFound(ctx, t, now)
	return err
}

// foundToken is a live token of ours: a refresh token, or an access token.
type foundToken struct {
	refresh *store.RefreshToken
	access  *bearer
}

func (t *foundToken) clientID() string {
	if t.refresh != nil {
		return t.refresh.ClientID
	}
	return t.access.clientID
}

func (t *foundToken) grantID() string {
	if t.refresh != nil {
		return t.refresh.GrantID
	}
	return t.access.grantID
}

// findToken returns the live token v is, or nil when it is none of ours
// (unknown, malformed, expired, rotated or revoked). hint "refresh_token"
// looks it up as a refresh token first; anything else as an access token
// first.
func (s *Service) findToken(ctx context.Context, v, hint string, now time.Time) (*foundToken, error) {
	if v == "" || len(v) > maxAssertionLen {
		return nil, nil
	}
	lookups := []func() (*foundToken, error){
		func() (*foundToken, error) { return s.findAccess(ctx, v, now) },
		func() (*foundToken, error) { return s.findRefresh(ctx, v, now) },
	}
	if hint == oauth.TokenTypeHintRefreshToken {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, look := range lookups {
		t, err := look()
		if err != nil || t != nil {
			return t, err
		}
	}
	return nil, nil
}

func (s *Service) findAccess(ctx context.Context, v string, now time.Time) (*foundToken, error) {
	b, err := s.checkAccessToken(ctx, v, now)
	if err != nil {
		if e := oauth.AsError(err); e != nil && e.Code == oauth.ErrCodeInvalidToken {
			return nil, nil
		}
		return nil, err
	}
	return &foundToken{access: b}, nil
}

func (s *Service) findRefresh(ctx context.Context, v string, now time.Time) (*foundToken, error) {
	if strings.Count(v, ".") == 2 {
		return nil, nil // ours are opaque
	}
	rt, err := s.RefreshTokens.Get(ctx, secret.Hash(v), now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, s.serverError(ctx, "get refresh token", err)
	}
	if !rt.RotatedAt.IsZero() {
		return nil, nil // exchanged for its successor: no longer a token
	}
	return &foundToken{refresh: rt}, nil
}

// revokeFound revokes one found token and returns how many grants went.
func (s *Service) revokeFound(ctx context.Context, t *foundToken, now time.Time) (int, error) {
	switch {
	case t.refresh != nil:
		g, err := s.Grants.Get(ctx, t.refresh.GrantID, now)
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil // revoked meanwhile
		}
		if err != nil {
			return 0, s.serverError(ctx, "get grant", err)
		}
		if err := s.Grants.Delete(ctx, g.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return 0, nil
			}
			return 0, s.serverError(ctx, "delete grant", err)
		}
		if g.LongLived && s.Authorizations != nil {
			if err := s.Authorizations.Delete(ctx, g.Subject, g.ClientID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return 1, s.serverError(ctx, "delete authorization", err)
			}
		}
		s.log().InfoContext(ctx, "refresh token revoked; grant deleted", "client_id", g.ClientID, "grant_id", g.ID)
		return 1, nil
	case t.access.at != nil:
		if err := s.AccessTokens.Delete(ctx, t.access.at.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, s.serverError(ctx, "delete access token", err)
		}
		return 0, nil
	default:
		c := t.access.jwt
		return 0, s.addRevocation(ctx, &store.Revocation{
			Kind: store.RevokeToken, TokenID: c.ID,
			RevokedAt: now, ExpiresAt: time.Unix(c.Expiry, 0).UTC(),
		})
	}
}

// addRevocation gives entry an ID and writes it through the journal.
func (s *Service) addRevocation(ctx context.Context, entry *store.Revocation) error {
	if s.Journal == nil {
		return s.serverError(ctx, "revoke", errors.New("no revocation journal configured"))
	}
	id, err := secret.Token(s.Rand, 16)
	if err != nil {
		return s.serverError(ctx, "new revocation id", err)
	}
	entry.ID = id
	if err := s.Journal.add(ctx, entry); err != nil {
		return s.serverError(ctx, "add revocation", err)
	}
	return nil
}
