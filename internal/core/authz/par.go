package authz

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// stepPushedRequest resolves a request_uri we issued at the PAR endpoint
// (RFC 9126 §4): single use, unexpired, pushed by the same client. The
// pushed parameters replace the query's. Its failures are not redirected:
// the redirect URI is inside the pushed request we could not load.
func stepPushedRequest(ctx context.Context, s *Service, f *flow) error {
	uri, ok := single(f.params, "request_uri")
	if !ok {
		return oauth.InvalidRequest("repeated request_uri parameter").NoRedirect()
	}
	if !isPARRequestURI(uri) {
		return nil
	}
	ref := strings.TrimPrefix(uri, parRequestURIPrefix)
	if ref == "" {
		return oauth.InvalidRequestURI("invalid request_uri").NoRedirect()
	}
	key := parKey(ref)
	pr, err := s.PAR.Consume(ctx, key, f.now)
	if errors.Is(err, store.ErrConsumed) && pr != nil {
		// Started before: usable again until a flow from it completes.
		err = s.pushedRequestCompleted(ctx, key, f.now)
	}
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConsumed):
		return oauth.InvalidRequestURI("the request_uri is unknown, used or expired").NoRedirect()
	case err != nil:
		return fmt.Errorf("consume pushed request: %w", err)
	case pr.ClientID != f.client.ID || !f.now.Before(pr.ExpiresAt):
		return oauth.InvalidRequestURI("the request_uri is unknown, used or expired").NoRedirect()
	}
	f.params = cleanParams(url.Values(pr.Params))
	f.params.Set("client_id", f.client.ID)
	f.pushed = true
	f.req.PushedRequest = key
	return nil
}

// A pushed request may start several authorisation sessions, as when the
// user reloads the page (RFC 9126 §4 allows it; the FAPI 2.0 test plan
// expects it), but only one of them may complete: the first to issue its
// response marks the request completed in the replay cache, cluster-wide,
// and from then on it is refused.

// completedPARKey is the replay-cache key that marks a pushed request's
// flow as completed.
func completedPARKey(key string) string { return secret.Hash("par-completed:" + key) }

// pushedRequestCompleted answers store.ErrConsumed when a flow of the
// pushed request completed, or when there is no replay cache to tell. It
// asks the cache with an entry that expires at once (until = now): a live
// mark is reported and left alone, and no live mark is left behind.
func (s *Service) pushedRequestCompleted(ctx context.Context, key string, now time.Time) error {
	if s.Replay == nil {
		return store.ErrConsumed
	}
	done, err := s.Replay.MarkUsed(ctx, completedPARKey(key), now, now)
	switch {
	case err != nil:
		return fmt.Errorf("check pushed request: %w", err)
	case done:
		return store.ErrConsumed
	}
	return nil
}

// completePushedRequest marks the pushed request of a as completed; it
// refuses when another session from the same request completed first.
func (s *Service) completePushedRequest(ctx context.Context, a *store.AuthzSession, now time.Time) error {
	if a.Request.PushedRequest == "" || s.Replay == nil {
		return nil
	}
	// The mark outlives the pushed request, which expires at most
	// PARLifetime after it was pushed, before now.
	done, err := s.Replay.MarkUsed(ctx, completedPARKey(a.Request.PushedRequest), now.Add(s.cfg().PARLifetime), now)
	switch {
	case err != nil:
		return fmt.Errorf("complete pushed request: %w", err)
	case done:
		return oauth.InvalidRequestURI("the request_uri was already used to complete an authorisation")
	}
	return nil
}

// parKey is the store key of a pushed request: the reference is a bearer
// handle, so only its digest is stored.
func parKey(ref string) string { return secret.Hash(ref) }

// Push accepts a pushed authorisation request (RFC 9126 §2) from a client
// the HTTP layer has already authenticated. It validates what can be
// validated without the user, stores the request for PARLifetime and returns
// its request_uri and lifetime in seconds. Protocol failures are
// *oauth.Error values to answer directly (HTTP 400), never redirects.
func (s *Service) Push(ctx context.Context, client *store.Client, params url.Values) (requestURI string, expiresIn int, err error) {
	cfg := s.cfg()
	if oe := oauth.CheckParams(params, oauth.ParamLimits{ValueSizes: true}); oe != nil {
		return "", 0, oe
	}
	params = cleanParams(params)
	if id, ok := single(params, "client_id"); !ok || (id != "" && id != client.ID) {
		return "", 0, oauth.InvalidRequest("client_id does not match the authenticated client")
	}
	if params.Get("request_uri") != "" {
		return "", 0, oauth.InvalidRequest("a pushed request must not contain request_uri")
	}
	params.Set("client_id", client.ID)
	f := &flow{params: params, now: s.now(), client: client, pushed: true}
	f.req.ClientID = client.ID
	if err := s.validate(ctx, f, true); err != nil {
		if oe := oauth.AsError(err); oe != nil {
			// Pushed requests are answered directly; strip the redirect flag
			// by rebuilding the error.
			return "", 0, oauth.Custom(oe.Code, oe.Status, oe.Description)
		}
		return "", 0, err
	}
	ref, err := secret.Token(s.Rand, 32)
	if err != nil {
		return "", 0, fmt.Errorf("push: %w", err)
	}
	pr := &store.PushedRequest{
		ID:       parKey(ref),
		ClientID: client.ID,
		// The validated parameters: those of a pushed request object, not
		// the object itself.
		Params:    maps.Clone(map[string][]string(f.params)),
		CreatedAt: f.now,
		ExpiresAt: f.now.Add(cfg.PARLifetime),
	}
	for k, v := range pr.Params {
		pr.Params[k] = slices.Clone(v)
	}
	if err := s.PAR.Create(ctx, pr); err != nil {
		return "", 0, fmt.Errorf("store pushed request: %w", err)
	}
	return parRequestURIPrefix + ref, int(cfg.PARLifetime.Seconds()), nil
}
