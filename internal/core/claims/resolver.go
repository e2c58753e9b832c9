package claims

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/keyward/keyward/plugin"
)

// Resolver fans a claims request out to the configured claims sources and
// merges their answers. Build it with NewResolver; it is safe for concurrent
// use and holds no mutable state.
//
// Routing: a source implementing plugin.ClaimsSupporter is asked only for
// the claims its patterns match, and each claim goes to the source whose
// pattern matches it most specifically (an exact name beats "prefix*",
// a longer prefix beats a shorter one, "*" is the fallback). A source
// without ClaimsSupporter is asked for every claim. Matching ignores a
// language tag ("name#de" matches "name").
type Resolver struct {
	Sources []plugin.ClaimsSource
	Log     *slog.Logger

	// routes[i] holds the patterns of Sources[i]; nil for a source without
	// ClaimsSupporter.
	routes [][]string
}

// NewResolver checks the sources' advertised claims and returns a Resolver.
// Two sources advertising the same claim name or the same pattern (two
// catch-all "*" included) is a configuration error, as in Connect2id
// (https://connect2id.com/products/server/docs/integration/claims-source):
// routing must never depend on order. A nil log discards log output.
func NewResolver(sources []plugin.ClaimsSource, log *slog.Logger) (*Resolver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{Sources: slices.Clone(sources), Log: log, routes: make([][]string, len(sources))}
	owner := map[string]int{}
	for i, src := range sources {
		if src == nil {
			return nil, fmt.Errorf("claims source %d is nil", i)
		}
		sup, ok := src.(plugin.ClaimsSupporter)
		if !ok {
			continue
		}
		pats := sup.SupportedClaims()
		if len(pats) == 0 {
			return nil, fmt.Errorf("claims source %d advertises no claims", i)
		}
		for _, p := range pats {
			if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
				return nil, fmt.Errorf("claims source %d: invalid claim pattern %q (only a trailing * is allowed)", i, p)
			}
			if j, dup := owner[p]; dup && j != i {
				return nil, fmt.Errorf("claim %q is advertised by claims sources %d and %d", p, j, i)
			}
			owner[p] = i
		}
		r.routes[i] = slices.Clone(pats)
	}
	return r, nil
}

// specificity scores how closely pattern p matches the claim base name;
// -1 means no match.
func specificity(p, name string) int {
	if prefix, ok := strings.CutSuffix(p, "*"); ok {
		if strings.HasPrefix(name, prefix) {
			return len(prefix)
		}
		return -1
	}
	if p == name {
		// An exact name always beats any prefix pattern.
		return 1 << 30
	}
	return -1
}

// baseName strips an RFC 5646 language tag ("name#de" → "name").
func baseName(claim string) string {
	name, _, _ := strings.Cut(claim, "#")
	return name
}

// patterns returns the claim patterns of source i, nil when it advertises
// none. A Resolver built as a literal rather than by NewResolver still
// routes correctly, only without the start-up checks.
func (r *Resolver) patterns(i int) []string {
	if len(r.routes) == len(r.Sources) {
		return r.routes[i]
	}
	if sup, ok := r.Sources[i].(plugin.ClaimsSupporter); ok {
		return sup.SupportedClaims()
	}
	return nil
}

// route returns, per source, the requested claims it is to be asked for.
func (r *Resolver) route(claims []string) [][]string {
	out := make([][]string, len(r.Sources))
	for _, c := range claims {
		name := baseName(c)
		best, bestScore := -1, -1
		for i := range r.Sources {
			pats := r.patterns(i)
			if pats == nil {
				out[i] = append(out[i], c)
				continue
			}
			for _, p := range pats {
				if s := specificity(p, name); s > bestScore {
					best, bestScore = i, s
				}
			}
		}
		if best >= 0 {
			out[best] = append(out[best], c)
		}
	}
	return out
}

// Get returns the requested claims about req.Subject from the sources (see
// Resolver for routing). Sources are called concurrently when more than one
// is involved; results are merged in source order, the first source to
// supply a claim winning. Only requested names are returned, never "sub".
//
// When some sources fail, Get still returns what the others supplied,
// together with an error joining the failures: the caller decides whether
// that is fatal (UserInfo) or ignorable (ID token; Connect2id's
// op.idToken.ignoreClaimsSourceErrors).
func (r *Resolver) Get(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	wanted := make(map[string]bool, len(req.Claims))
	var claims []string
	for _, c := range req.Claims {
		if c == "" || c == claimSub || wanted[c] {
			continue
		}
		wanted[c] = true
		claims = append(claims, c)
	}
	out := map[string]any{}
	if len(claims) == 0 {
		return out, nil
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("get claims: %w", err)
	}
	routed := r.route(claims)
	results := make([]map[string]any, len(r.Sources))
	errs := make([]error, len(r.Sources))
	call := func(i int) {
		sreq := req
		sreq.Claims = routed[i]
		results[i], errs[i] = r.Sources[i].Claims(ctx, sreq)
		if errs[i] != nil {
			errs[i] = fmt.Errorf("claims source %d: %w", i, errs[i])
		}
	}
	var active []int
	for i := range r.Sources {
		if len(routed[i]) > 0 {
			active = append(active, i)
		}
	}
	if len(active) == 1 {
		call(active[0])
	} else {
		var wg sync.WaitGroup
		for _, i := range active {
			wg.Go(func() { call(i) })
		}
		wg.Wait()
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for i, res := range results {
		if errs[i] != nil {
			// Never log claim values: they are personal data.
			log.WarnContext(ctx, "claims source failed", "source", i, "claims", len(routed[i]), "err", errs[i])
			continue
		}
		for k, v := range res {
			if !wanted[k] {
				continue
			}
			if _, dup := out[k]; !dup {
				out[k] = v
			}
		}
	}
	return out, errors.Join(errs...)
}
