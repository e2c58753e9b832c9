package authzstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// TokenKind tells an access token from a refresh token.
type TokenKind string

// Token kinds, named as the form parameters that carry them.
const (
	AccessToken  TokenKind = "access_token"
	RefreshToken TokenKind = "refresh_token"
)

// RevocationRequest selects what to revoke: by Subject, ClientID and Actor
// (those given must all match), or the authorisation behind one token
// (TokenKind and Token, alone).
type RevocationRequest struct {
	Subject  string
	ClientID string
	Actor    string
	Kind     TokenKind
	Token    string
	// Before limits the revocation to what was issued (or, for a long-lived
	// authorisation, last updated) at or before it; zero means everything
	// up to now.
	Before time.Time
}

// Revoker revokes authorisations and the tokens issued under them, and
// returns the long-lived authorisations it removed.
type Revoker interface {
	Revoke(ctx context.Context, r RevocationRequest) ([]*store.Authorization, error)
}

// Inspector returns the grant behind a valid token of the given kind, or
// an error wrapping store.ErrNotFound when the token is malformed,
// foreign, expired or revoked.
type Inspector interface {
	Inspect(ctx context.Context, kind TokenKind, token string) (*store.Grant, error)
}

// TokenGrants finds the grant behind an access or refresh token, checking
// the token as the token endpoint and UserInfo do (token.Service).
type TokenGrants interface {
	AccessTokenGrant(ctx context.Context, value string) (*store.Grant, error)
	RefreshTokenGrant(ctx context.Context, value string) (*store.Grant, error)
}

// TokenInspector is the Inspector of the token stores and keys.
type TokenInspector struct{ Tokens TokenGrants }

// Inspect implements Inspector.
func (i TokenInspector) Inspect(ctx context.Context, kind TokenKind, token string) (*store.Grant, error) {
	if kind == RefreshToken {
		return i.Tokens.RefreshTokenGrant(ctx, token)
	}
	return i.Tokens.AccessTokenGrant(ctx, token)
}

// GrantRevoker is the Revoker of the grant and authorisation stores.
// Deleting a grant removes its refresh and identifier access tokens, and
// a self-contained access token is refused once its grant is gone (UserInfo
// checks the grant). Keyward issues no grants with an actor, so revoking
// by actor finds nothing.
type GrantRevoker struct {
	Grants         store.GrantStore
	Authorizations store.AuthorizationStore
	Tokens         TokenGrants
	Now            func() time.Time
}

// Revoke implements Revoker.
//
// As with Connect2id, revoking by a token revokes the authorisation behind
// it: for a long-lived one, the subject's long-lived authorisation of the
// client with every grant under it; for a transient one, its grant.
func (r GrantRevoker) Revoke(ctx context.Context, req RevocationRequest) ([]*store.Authorization, error) {
	if req.Token != "" {
		g, err := TokenInspector{Tokens: r.Tokens}.Inspect(ctx, req.Kind, req.Token)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if !g.LongLived {
			if err := r.Grants.Delete(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("revoke grant: %w", err)
			}
			return nil, nil
		}
		req = RevocationRequest{Subject: g.Subject, ClientID: g.ClientID, Before: req.Before}
	}
	if req.Actor != "" || (req.Subject == "" && req.ClientID == "") {
		return nil, nil
	}
	removed, err := r.revokeAuthorizations(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := r.revokeGrants(ctx, req); err != nil {
		return nil, err
	}
	return removed, nil
}

// revokeAuthorizations goes first, so that a new authorisation request
// cannot skip consent on the strength of what is being revoked.
func (r GrantRevoker) revokeAuthorizations(ctx context.Context, req RevocationRequest) ([]*store.Authorization, error) {
	list, err := r.Authorizations.List(ctx, req.Subject, req.ClientID)
	if err != nil {
		return nil, fmt.Errorf("list authorisations: %w", err)
	}
	var removed []*store.Authorization
	for _, a := range list {
		if !req.Before.IsZero() && a.UpdatedAt.After(req.Before) {
			continue
		}
		err := r.Authorizations.Delete(ctx, a.Subject, a.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue // revoked meanwhile by someone else
		}
		if err != nil {
			return removed, fmt.Errorf("delete authorisation: %w", err)
		}
		removed = append(removed, a)
	}
	return removed, nil
}

func (r GrantRevoker) revokeGrants(ctx context.Context, req RevocationRequest) error {
	f := store.GrantFilter{Subject: req.Subject, ClientID: req.ClientID}
	if req.Before.IsZero() {
		if _, err := r.Grants.DeleteMatching(ctx, f); err != nil {
			return fmt.Errorf("delete grants: %w", err)
		}
		return nil
	}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	grants, err := r.Grants.List(ctx, f, now)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	for _, g := range grants {
		if g.CreatedAt.After(req.Before) {
			continue
		}
		if err := r.Grants.Delete(ctx, g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete grant: %w", err)
		}
	}
	return nil
}

// tokenParam returns the one token parameter of a form, if any.
func tokenParam(p map[string]string) (TokenKind, string, error) {
	var kind TokenKind
	var value string
	for _, k := range []TokenKind{AccessToken, RefreshToken} {
		v, ok := p[string(k)]
		if !ok {
			continue
		}
		if kind != "" {
			return "", "", oauth.InvalidRequest("access_token and refresh_token are mutually exclusive")
		}
		if v == "" {
			return "", "", oauth.InvalidRequest(string(k) + ": empty")
		}
		kind, value = k, v
	}
	return kind, value, nil
}

// Revoke answers POST /revocation. The form selects by subject, client_id
// and actor (combined, all must match) or by one access_token or
// refresh_token; timestamp (Unix seconds, not in the future) limits it to
// what was issued until then. It returns the long-lived authorisations
// removed, and whether the caller asked for quiet (?quiet=true: 204
// without them).
func (s *Service) Revoke(ctx context.Context, q, form url.Values) (removed []*Authorization, quiet bool, err error) {
	qp, err := params(q, "quiet")
	if err != nil {
		return nil, false, err
	}
	if v, ok := qp["quiet"]; ok {
		if quiet, err = strconv.ParseBool(v); err != nil {
			return nil, false, oauth.InvalidRequest("quiet: must be true or false")
		}
	}
	if form.Has("auth_req_id") {
		return nil, false, oauth.InvalidRequest("auth_req_id: CIBA is not supported")
	}
	p, err := params(form, "subject", "client_id", "actor", "access_token", "refresh_token", "timestamp")
	if err != nil {
		return nil, false, err
	}
	req := RevocationRequest{}
	if req.Subject, err = idParam(p, "subject"); err != nil {
		return nil, false, err
	}
	if req.ClientID, err = idParam(p, "client_id"); err != nil {
		return nil, false, err
	}
	if req.Actor, err = idParam(p, "actor"); err != nil {
		return nil, false, err
	}
	if req.Kind, req.Token, err = tokenParam(p); err != nil {
		return nil, false, err
	}
	switch {
	case req.Token != "" && (req.Subject != "" || req.ClientID != "" || req.Actor != ""):
		return nil, false, oauth.InvalidRequest("a token cannot be combined with subject, client_id or actor")
	case req.Token == "" && req.Subject == "" && req.ClientID == "" && req.Actor == "":
		return nil, false, oauth.InvalidRequest("subject, client_id, actor, access_token or refresh_token is required")
	}
	if v, ok := p["timestamp"]; ok {
		ts, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ts <= 0 || ts > s.now().Unix() {
			return nil, false, oauth.InvalidRequest("timestamp: must be a Unix time in seconds, not in the future")
		}
		req.Before = time.Unix(ts, 0).UTC()
	}
	gone, err := s.Revoker.Revoke(ctx, req)
	if err != nil {
		return nil, false, s.serverError(ctx, "revoke", err)
	}
	removed = make([]*Authorization, 0, len(gone))
	for _, a := range gone {
		removed = append(removed, FromStore(a, s.Issuer))
	}
	return removed, quiet, nil
}

// Inspect answers POST /inspection: the authorisation behind one
// access_token or refresh_token, or an error wrapping store.ErrNotFound
// when the token is invalid, expired or revoked.
func (s *Service) Inspect(ctx context.Context, q, form url.Values) (*Authorization, error) {
	if _, err := params(q); err != nil {
		return nil, err
	}
	if form.Has("auth_req_id") {
		return nil, oauth.InvalidRequest("auth_req_id: CIBA is not supported")
	}
	p, err := params(form, "access_token", "refresh_token")
	if err != nil {
		return nil, err
	}
	kind, token, err := tokenParam(p)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, oauth.InvalidRequest("access_token or refresh_token is required")
	}
	g, err := s.Inspector.Inspect(ctx, kind, token)
	if errors.Is(err, store.ErrNotFound) && oauth.AsError(err) == nil {
		return nil, fmt.Errorf("inspect %s: %w", kind, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.serverError(ctx, "inspect", err)
	}
	return FromGrant(g, s.Issuer), nil
}
