package authz

import (
	"context"

	"github.com/keyward/keyward/oauth"
)

// stepScope parses scope (RFC 6749 §3.3): a token with illegal characters
// is invalid_scope. With LimitToRegisteredScope the scope is cut to the
// client's registered scope (as Connect2id's op.authz.limitToRegisteredScope),
// keeping "openid".
func stepScope(_ context.Context, s *Service, f *flow) error {
	raw := f.params.Get("scope")
	for _, tok := range splitSpaces(raw) {
		if !oauth.ValidScopeToken(tok) {
			return oauth.InvalidScope("the scope contains illegal characters")
		}
	}
	scope := oauth.ParseScope(raw)
	if s.Config.LimitToRegisteredScope && f.client.Metadata.Scope != "" {
		allowed := oauth.ParseScope(f.client.Metadata.Scope).Union(oauth.Scope{oauth.ScopeOpenID})
		scope = scope.Intersect(allowed)
	}
	f.req.Scope = scope
	f.openID = scope.Contains(oauth.ScopeOpenID)
	return nil
}

// splitSpaces splits on single spaces only, keeping other whitespace inside
// tokens so that it is caught as illegal.
func splitSpaces(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
