package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyward/keyward/plugin"
)

// ClaimsSource serves the claims captured at login (the "claims" member of
// the subject authentication, kept in the subject session) for as long as
// the session lives: Connect2id's session claims source
// (https://connect2id.com/products/server/docs/integration/claims-source).
// Only claims matching Supported are served; a closed, expired or unknown
// session, or one of another subject, yields nothing.
type ClaimsSource struct {
	Sessions *Service
	// Supported are the claim names or "prefix*" patterns the source may
	// serve (claims.sources[].supported_claims).
	Supported []string
}

var (
	_ plugin.ClaimsSource    = (*ClaimsSource)(nil)
	_ plugin.ClaimsSupporter = (*ClaimsSource)(nil)
)

// NewClaimsSource checks the patterns and returns a ClaimsSource.
func NewClaimsSource(sessions *Service, supported []string) (*ClaimsSource, error) {
	if sessions == nil {
		return nil, errors.New("session claims source: no session service")
	}
	if len(supported) == 0 {
		return nil, errors.New("session claims source: supported_claims must list the claims it may serve")
	}
	for _, p := range supported {
		base := strings.TrimSuffix(p, "*")
		if p == "" || strings.Contains(base, "*") || strings.Contains(p, "#") || base == "sub" {
			return nil, fmt.Errorf("session claims source: invalid supported claim %q", p)
		}
	}
	return &ClaimsSource{Sessions: sessions, Supported: slices.Clone(supported)}, nil
}

// SupportedClaims implements plugin.ClaimsSupporter.
func (c *ClaimsSource) SupportedClaims() []string { return slices.Clone(c.Supported) }

func (c *ClaimsSource) supports(claim string) bool {
	base, _, _ := strings.Cut(claim, "#")
	if base == "sub" {
		return false
	}
	return slices.ContainsFunc(c.Supported, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(base, prefix)
		}
		return p == base
	})
}

// Claims implements plugin.ClaimsSource. Reading the session does not
// count as a use of it: serving UserInfo must not keep an idle session
// alive.
func (c *ClaimsSource) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("session claims: %w", err)
	}
	out := map[string]any{}
	if req.SubjectSessionID == "" || len(req.Claims) == 0 {
		return out, nil
	}
	sess, err := c.Sessions.Peek(ctx, req.SubjectSessionID)
	if errors.Is(err, ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("session claims: %w", err)
	}
	if sess.Subject != req.Subject {
		return out, nil
	}
	for _, name := range req.Claims {
		v, ok := sess.Claims[name]
		if !ok || !c.supports(name) {
			continue
		}
		cp, err := copyJSON(v)
		if err != nil {
			return nil, fmt.Errorf("session claims: claim %q: %w", name, err)
		}
		out[name] = cp
	}
	return out, nil
}

// copyJSON returns a deep copy of a JSON value, so that callers can change
// what they get without reaching the stored session.
func copyJSON(v any) (any, error) {
	switch v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return v, nil
}
