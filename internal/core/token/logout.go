package token

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// RevokeSession deletes the grants issued in one subject session (the
// store key of the session, store.Grant.SubjectSessionID) of the subject,
// for one client or, with clientID empty, for all; with all false only
// the grants without offline_access, whose refresh tokens were meant to
// last only while the user is signed in (OIDC Core §11). Deleting a grant
// takes its refresh and identifier access tokens with it, and its
// self-contained access tokens fail the grant check of UserInfo and
// introspection. It is logout.revoke_tokens (docs/configuration.md) and
// returns how many grants it deleted.
func (s *Service) RevokeSession(ctx context.Context, subject, sessionKey, clientID string, all bool) (int, error) {
	if subject == "" || sessionKey == "" {
		return 0, nil
	}
	grants, err := s.Grants.List(ctx, store.GrantFilter{Subject: subject, ClientID: clientID}, s.now())
	if err != nil {
		return 0, fmt.Errorf("list grants of session: %w", err)
	}
	n := 0
	for _, g := range grants {
		if g.SubjectSessionID != sessionKey || (!all && slices.Contains(g.Scope, oauth.ScopeOfflineAccess)) {
			continue
		}
		if err := s.Grants.Delete(ctx, g.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return n, fmt.Errorf("delete grant of session: %w", err)
		}
		n++
	}
	return n, nil
}
