package authzstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// ClientGetter returns a registered client or an error wrapping
// store.ErrNotFound.
type ClientGetter interface {
	Get(ctx context.Context, id string) (*store.Client, error)
}

// Paging of GET /subjects and GET /clients.
const (
	DefaultPageSize = 1000
	MaxPageSize     = 1000
)

// Service is the authorisation store API.
type Service struct {
	// Issuer is the server's issuer identifier, given as "iss".
	Issuer         string
	Authorizations store.AuthorizationStore
	Clients        ClientGetter
	Revoker        Revoker
	Inspector      Inspector
	Now            func() time.Time
	Log            *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) serverError(ctx context.Context, what string, err error) error {
	switch {
	case s.Log == nil:
	case store.IsUnavailable(err):
		// An outage, not a fault: the HTTP layer answers 503.
		s.Log.WarnContext(ctx, "authorisation store API: backend unavailable: "+what, "error", err.Error())
	default:
		s.Log.ErrorContext(ctx, "authorisation store API: "+what, "error", err.Error())
	}
	return oauth.ServerError("internal error").WithCause(err)
}

// params checks that q holds only the allowed parameters, each at most
// once, and returns their values.
func params(q url.Values, allowed ...string) (map[string]string, error) {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	out := map[string]string{}
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			return nil, oauth.InvalidRequest(fmt.Sprintf("unknown parameter %q", name))
		}
		if len(q[name]) != 1 {
			return nil, oauth.InvalidRequest(fmt.Sprintf("repeated parameter %q", name))
		}
		out[name] = q[name][0]
	}
	return out, nil
}

// idParam returns the value of an optional subject or client_id parameter.
func idParam(p map[string]string, name string) (string, error) {
	v, ok := p[name]
	if ok && !validID(v) {
		return "", oauth.InvalidRequest(name + ": must be printable text of at most 1024 bytes")
	}
	return v, nil
}

// Query answers GET /authorizations: with subject and client_id, the one
// authorisation (one is true) or an error wrapping store.ErrNotFound; with
// only one of them, every authorisation of that subject or client.
func (s *Service) Query(ctx context.Context, q url.Values) (list []*Authorization, one bool, err error) {
	p, err := params(q, "subject", "client_id")
	if err != nil {
		return nil, false, err
	}
	sub, err := idParam(p, "subject")
	if err != nil {
		return nil, false, err
	}
	cid, err := idParam(p, "client_id")
	if err != nil {
		return nil, false, err
	}
	if sub == "" && cid == "" {
		return nil, false, oauth.InvalidRequest("subject or client_id is required")
	}
	if sub != "" && cid != "" {
		a, err := s.Authorizations.Get(ctx, sub, cid)
		if errors.Is(err, store.ErrNotFound) {
			return nil, true, fmt.Errorf("no authorisation of %q for %q: %w", sub, cid, store.ErrNotFound)
		}
		if err != nil {
			return nil, true, s.serverError(ctx, "get", err)
		}
		return []*Authorization{FromStore(a, s.Issuer)}, true, nil
	}
	stored, err := s.Authorizations.List(ctx, sub, cid)
	if err != nil {
		return nil, false, s.serverError(ctx, "list", err)
	}
	list = make([]*Authorization, 0, len(stored))
	for _, a := range stored {
		list = append(list, FromStore(a, s.Issuer))
	}
	return list, false, nil
}

// decodeForStore decodes and checks an authorisation to store.
func (s *Service) decodeForStore(ctx context.Context, body []byte) (*Authorization, error) {
	a, err := DecodeAuthorization(body)
	if err != nil {
		return nil, err
	}
	if !a.LongLived {
		return nil, oauth.InvalidRequest("lng: only long-lived authorisations are stored")
	}
	if err := a.validate(s.Issuer); err != nil {
		return nil, err
	}
	if _, err := s.Clients.Get(ctx, a.ClientID); errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidRequest(fmt.Sprintf("cid: no registered client %q", a.ClientID))
	} else if err != nil {
		return nil, s.serverError(ctx, "get client", err)
	}
	return a, nil
}

// Add answers POST /authorizations: it stores the authorisation, replacing
// any of the same subject and client, and returns it as stored.
func (s *Service) Add(ctx context.Context, q url.Values, body []byte) (*Authorization, error) {
	if _, err := params(q); err != nil {
		return nil, oauth.InvalidRequest(errDescription(err) + "; Keyward stores the authorisation and issues no code or tokens")
	}
	a, err := s.decodeForStore(ctx, body)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rec := a.toStore(now, now)
	if err := s.Authorizations.Put(ctx, rec); err != nil {
		return nil, s.serverError(ctx, "put", err)
	}
	return FromStore(rec, s.Issuer), nil
}

// Update answers PUT /authorizations: it replaces an existing
// authorisation, keeping its creation time unless "iat" is given, or
// fails with an error wrapping store.ErrNotFound.
func (s *Service) Update(ctx context.Context, q url.Values, body []byte) (*Authorization, error) {
	if _, err := params(q); err != nil {
		return nil, err
	}
	a, err := s.decodeForStore(ctx, body)
	if err != nil {
		return nil, err
	}
	old, err := s.Authorizations.Get(ctx, a.Subject, a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no authorisation of %q for %q: %w", a.Subject, a.ClientID, store.ErrNotFound)
	}
	if err != nil {
		return nil, s.serverError(ctx, "get", err)
	}
	rec := a.toStore(old.CreatedAt, s.now())
	if err := s.Authorizations.Put(ctx, rec); err != nil {
		return nil, s.serverError(ctx, "put", err)
	}
	return FromStore(rec, s.Issuer), nil
}

// Delete answers DELETE /authorizations?subject=…&client_id=…: it revokes
// the authorisation with every token issued under it, or fails with an
// error wrapping store.ErrNotFound when there is none.
func (s *Service) Delete(ctx context.Context, q url.Values) error {
	p, err := params(q, "subject", "client_id")
	if err != nil {
		return err
	}
	sub, err := idParam(p, "subject")
	if err != nil {
		return err
	}
	cid, err := idParam(p, "client_id")
	if err != nil {
		return err
	}
	if sub == "" || cid == "" {
		return oauth.InvalidRequest("subject and client_id are both required")
	}
	if _, err := s.Authorizations.Get(ctx, sub, cid); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no authorisation of %q for %q: %w", sub, cid, store.ErrNotFound)
	} else if err != nil {
		return s.serverError(ctx, "get", err)
	}
	if _, err := s.Revoker.Revoke(ctx, RevocationRequest{Subject: sub, ClientID: cid}); err != nil {
		return s.serverError(ctx, "revoke", err)
	}
	return nil
}

// Page is one page of subjects or client IDs. Next, when not empty, is the
// "after" value of the following page.
type Page struct {
	Items []string
	Next  string
}

// Subjects answers GET /subjects?after=…&limit=….
func (s *Service) Subjects(ctx context.Context, q url.Values) (*Page, error) {
	return s.page(ctx, q, s.Authorizations.Subjects)
}

// ClientIDs answers GET /clients?after=…&limit=….
func (s *Service) ClientIDs(ctx context.Context, q url.Values) (*Page, error) {
	return s.page(ctx, q, s.Authorizations.Clients)
}

func (s *Service) page(ctx context.Context, q url.Values, list func(context.Context, string, int) ([]string, error)) (*Page, error) {
	p, err := params(q, "after", "limit")
	if err != nil {
		return nil, err
	}
	limit := DefaultPageSize
	if v, ok := p["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return nil, oauth.InvalidRequest(fmt.Sprintf("limit: must be an integer from 1 to %d", MaxPageSize))
		}
		limit = n
	}
	after, ok := p["after"]
	if ok && after != "" && !validID(after) {
		return nil, oauth.InvalidRequest("after: must be printable text of at most 1024 bytes")
	}
	// One more than the page tells whether another page follows.
	items, err := list(ctx, after, limit+1)
	if err != nil {
		return nil, s.serverError(ctx, "list", err)
	}
	out := &Page{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		out.Next = items[limit-1]
	}
	if out.Items == nil {
		out.Items = []string{}
	}
	return out, nil
}

func errDescription(err error) string {
	if oe := oauth.AsError(err); oe != nil {
		return oe.Description
	}
	return err.Error()
}
