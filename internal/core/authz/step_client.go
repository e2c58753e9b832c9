package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// stepClientID requires exactly one client_id (RFC 6749 §4.1.1). Failures
// are never redirected: there is no trusted redirect URI yet.
func stepClientID(_ context.Context, _ *Service, f *flow) error {
	id, ok := single(f.params, "client_id")
	if !ok {
		return oauth.InvalidRequest("repeated client_id parameter").NoRedirect()
	}
	if id == "" {
		return oauth.InvalidRequest("missing client_id parameter").NoRedirect()
	}
	f.req.ClientID = id
	return nil
}

// stepClient loads the registered client (OIDC Core §3.1.2.1: an invalid
// client is shown to the user, not redirected).
func stepClient(ctx context.Context, s *Service, f *flow) error {
	c, err := s.Clients.Get(ctx, f.req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return oauth.InvalidClient("unknown client_id").NoRedirect()
	}
	if err != nil {
		return fmt.Errorf("get client: %w", err)
	}
	f.client = c
	return nil
}
