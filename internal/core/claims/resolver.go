package claims

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// Failure policies of a claims source (claims.sources[].on_error).
const (
	// OnErrorOmit leaves a failing source's claims out of the response,
	// logs and counts the failure: the default, as Connect2id's
	// op.idToken.ignoreClaimsSourceErrors.
	OnErrorOmit = "omit"
	// OnErrorFail fails the request with temporarily_unavailable.
	OnErrorFail = "fail"
)

// Source is one claims source with the name used in messages and logs and
// its failure policy.
type Source struct {
	// Name identifies the source, e.g. "claims.sources[1] (sql)".
	Name   string
	Source plugin.ClaimsSource
	// OnError is OnErrorOmit (or empty) or OnErrorFail.
	OnError string
}

// Resolver fans a claims request out to the configured claims sources and
// merges their answers. Build it with New or NewResolver; it is safe for
// concurrent use.
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
	// names[i] and fail[i] are the name and policy of Sources[i]; a
	// Resolver built as a literal has neither (numbered names, omit).
	names    []string
	fail     []bool
	failures []atomic.Uint64
}

// NewResolver is New with the sources named by their position and the
// omit policy.
func NewResolver(sources []plugin.ClaimsSource, log *slog.Logger) (*Resolver, error) {
	specs := make([]Source, len(sources))
	for i, src := range sources {
		specs[i] = Source{Name: fmt.Sprintf("claims source %d", i), Source: src}
	}
	return New(specs, log)
}

// New checks the sources' advertised claims and returns a Resolver. Two
// sources advertising the same claim name or the same pattern (two
// catch-all "*" included) is a configuration error naming both, as in
// Connect2id (https://connect2id.com/products/server/docs/integration/claims-source):
// a claim is supplied by one enabled source only, and routing must never
// depend on order. A nil log discards log output.
func New(sources []Source, log *slog.Logger) (*Resolver, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Resolver{
		Sources:  make([]plugin.ClaimsSource, len(sources)),
		Log:      log,
		routes:   make([][]string, len(sources)),
		names:    make([]string, len(sources)),
		fail:     make([]bool, len(sources)),
		failures: make([]atomic.Uint64, len(sources)),
	}
	owner := map[string]int{}
	for i, spec := range sources {
		r.names[i] = spec.Name
		if r.names[i] == "" {
			r.names[i] = fmt.Sprintf("claims source %d", i)
		}
		switch spec.OnError {
		case "", OnErrorOmit:
		case OnErrorFail:
			r.fail[i] = true
		default:
			return nil, fmt.Errorf("%s: on_error %q must be omit or fail", r.names[i], spec.OnError)
		}
		src := spec.Source
		if src == nil {
			return nil, fmt.Errorf("%s is nil", r.names[i])
		}
		r.Sources[i] = src
		sup, ok := src.(plugin.ClaimsSupporter)
		if !ok {
			continue
		}
		pats := sup.SupportedClaims()
		if len(pats) == 0 {
			return nil, fmt.Errorf("%s advertises no claims", r.names[i])
		}
		for _, p := range pats {
			if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
				return nil, fmt.Errorf("%s: invalid claim pattern %q (only a trailing * is allowed)", r.names[i], p)
			}
			if j, dup := owner[p]; dup && j != i {
				return nil, fmt.Errorf("claim %q is advertised by both %s and %s; a claim may come from one source only", p, r.names[j], r.names[i])
			}
			owner[p] = i
		}
		r.routes[i] = slices.Clone(pats)
	}
	return r, nil
}

// Supported returns the union of the claim names and patterns the sources
// advertise, sorted, for discovery's claims_supported. A source without
// ClaimsSupporter is asked for every claim, so it counts as "*".
func (r *Resolver) Supported() []string {
	seen := map[string]bool{}
	for i := range r.Sources {
		pats := r.patterns(i)
		if pats == nil {
			seen["*"] = true
		}
		for _, p := range pats {
			seen[p] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Failures returns how many lookups each source has failed since start,
// by source name.
func (r *Resolver) Failures() map[string]uint64 {
	out := make(map[string]uint64, len(r.Sources))
	for i := range r.Sources {
		if i < len(r.failures) {
			out[r.name(i)] = r.failures[i].Load()
		}
	}
	return out
}

func (r *Resolver) name(i int) string {
	if i < len(r.names) {
		return r.names[i]
	}
	return fmt.Sprintf("claims source %d", i)
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
// Resolver for routing). The sources involved are called concurrently, and
// Get returns when all have answered or ctx is done, whichever is first: a
// source still busy then counts as failed. Results are merged in source
// order, the first source to supply a claim winning. Only requested names
// are returned, never "sub".
//
// A failed source is logged (never with claim values) and counted. Under
// OnErrorOmit its claims are left out and Get reports no error; when a
// source under OnErrorFail fails, Get returns what the others supplied
// together with an *oauth.Error temporarily_unavailable wrapping the
// failures, and the caller fails the request.
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
	type answer struct {
		i      int
		claims map[string]any
		err    error
	}
	var active []int
	for i := range r.Sources {
		if len(routed[i]) > 0 {
			active = append(active, i)
		}
	}
	// Buffered, so that a source answering after ctx is done does not
	// block its goroutine forever.
	answers := make(chan answer, len(active))
	for _, i := range active {
		go func() {
			sreq := req
			sreq.Claims = routed[i]
			got, err := r.Sources[i].Claims(ctx, sreq)
			answers <- answer{i: i, claims: got, err: err}
		}()
	}
	results := make([]map[string]any, len(r.Sources))
	errs := make([]error, len(r.Sources))
	pending := map[int]bool{}
	for _, i := range active {
		pending[i] = true
	}
collect:
	for len(pending) > 0 {
		select {
		case a := <-answers:
			delete(pending, a.i)
			results[a.i], errs[a.i] = a.claims, a.err
		case <-ctx.Done():
			for i := range pending {
				errs[i] = fmt.Errorf("no answer before the request deadline: %w", ctx.Err())
			}
			break collect
		}
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var failed []error
	for i, res := range results {
		if errs[i] != nil {
			n := uint64(0)
			if i < len(r.failures) {
				n = r.failures[i].Add(1)
			}
			fail := i < len(r.fail) && r.fail[i]
			policy := OnErrorOmit
			if fail {
				policy = OnErrorFail
				failed = append(failed, fmt.Errorf("%s: %w", r.name(i), errs[i]))
			}
			// Never log claim values: they are personal data.
			log.WarnContext(ctx, "claims source failed", "source", r.name(i), "on_error", policy,
				"claims", len(routed[i]), "failures", n, "err", errs[i])
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
	if len(failed) > 0 {
		return out, oauth.TemporarilyUnavailable("a claims source is unavailable").WithCause(errors.Join(failed...))
	}
	return out, nil
}
