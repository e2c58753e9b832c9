package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/store"
)

type clients struct{ s *Store }

func (c clients) Create(_ context.Context, cl *store.Client) error {
	in, err := clone(cl)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if _, ok := c.s.clients[in.ID]; ok {
		return fmt.Errorf("create client %q: %w", in.ID, store.ErrExists)
	}
	c.s.clients[in.ID] = in
	return nil
}

func (c clients) Get(_ context.Context, id string) (*store.Client, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	cl, ok := c.s.clients[id]
	if !ok {
		return nil, fmt.Errorf("get client %q: %w", id, store.ErrNotFound)
	}
	return mustClone(cl), nil
}

func (c clients) Update(_ context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	out, err := update(c.s.clients, id, func(*store.Client) bool { return true }, fn, func(cl *store.Client) { cl.ID = id })
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("update client %q: %w", id, err)
	}
	return out, err
}

func (c clients) Delete(_ context.Context, id string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if _, ok := c.s.clients[id]; !ok {
		return fmt.Errorf("delete client %q: %w", id, store.ErrNotFound)
	}
	delete(c.s.clients, id)
	g := grants(c)
	for gid, gr := range c.s.grants {
		if gr.ClientID == id {
			g.deleteLocked(gid)
		}
	}
	for k := range c.s.authorizations {
		if k.clientID == id {
			delete(c.s.authorizations, k)
		}
	}
	return nil
}

func (c clients) List(_ context.Context, after string, limit int) ([]*store.Client, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var ids []string
	for id := range c.s.clients {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if limit >= 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*store.Client, 0, len(ids))
	for _, id := range ids {
		out = append(out, mustClone(c.s.clients[id]))
	}
	return out, nil
}

type grants struct{ s *Store }

func (g grants) Create(_ context.Context, gr *store.Grant) error {
	in, err := clone(gr)
	if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	if _, ok := g.s.grants[in.ID]; ok {
		return fmt.Errorf("create grant %q: %w", in.ID, store.ErrExists)
	}
	g.s.grants[in.ID] = in
	return nil
}

func (g grants) Get(_ context.Context, id string, now time.Time) (*store.Grant, error) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	gr, ok := g.s.grants[id]
	if !ok || expired(gr.ExpiresAt, now) {
		return nil, fmt.Errorf("get grant %q: %w", id, store.ErrNotFound)
	}
	return mustClone(gr), nil
}

// deleteLocked removes a grant and everything issued under it.
func (g grants) deleteLocked(id string) {
	delete(g.s.grants, id)
	for tid, t := range g.s.refreshTokens {
		if t.GrantID == id {
			delete(g.s.refreshTokens, tid)
		}
	}
	for tid, t := range g.s.accessTokens {
		if t.GrantID == id {
			delete(g.s.accessTokens, tid)
		}
	}
}

func (g grants) Delete(_ context.Context, id string) error {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	if _, ok := g.s.grants[id]; !ok {
		return fmt.Errorf("delete grant %q: %w", id, store.ErrNotFound)
	}
	g.deleteLocked(id)
	return nil
}

func matches(f store.GrantFilter, gr *store.Grant) bool {
	return (f.Subject == "" || f.Subject == gr.Subject) && (f.ClientID == "" || f.ClientID == gr.ClientID)
}

// errEmptyFilter refuses a filter that would select every grant.
var errEmptyFilter = errors.New("grant filter selects nothing: set subject or client ID")

func (g grants) DeleteMatching(_ context.Context, f store.GrantFilter) (int, error) {
	if f == (store.GrantFilter{}) {
		return 0, fmt.Errorf("delete grants: %w", errEmptyFilter)
	}
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	n := 0
	for id, gr := range g.s.grants {
		if matches(f, gr) {
			g.deleteLocked(id)
			n++
		}
	}
	return n, nil
}

func (g grants) List(_ context.Context, f store.GrantFilter, now time.Time) ([]*store.Grant, error) {
	if f == (store.GrantFilter{}) {
		return nil, fmt.Errorf("list grants: %w", errEmptyFilter)
	}
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	var out []*store.Grant
	for _, gr := range g.s.grants {
		if matches(f, gr) && !expired(gr.ExpiresAt, now) {
			out = append(out, mustClone(gr))
		}
	}
	sortedBy(out, func(g *store.Grant) time.Time { return g.CreatedAt }, func(g *store.Grant) string { return g.ID }, true)
	return out, nil
}

type authorizations struct{ s *Store }

func (a authorizations) Put(_ context.Context, au *store.Authorization) error {
	in, err := clone(au)
	if err != nil {
		return fmt.Errorf("put authorization: %w", err)
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.authorizations[authzKey{in.Subject, in.ClientID}] = in
	return nil
}

func (a authorizations) Get(_ context.Context, subject, clientID string) (*store.Authorization, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	au, ok := a.s.authorizations[authzKey{subject, clientID}]
	if !ok {
		return nil, fmt.Errorf("get authorization %q/%q: %w", subject, clientID, store.ErrNotFound)
	}
	return mustClone(au), nil
}

func (a authorizations) Delete(_ context.Context, subject, clientID string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	k := authzKey{subject, clientID}
	if _, ok := a.s.authorizations[k]; !ok {
		return fmt.Errorf("delete authorization %q/%q: %w", subject, clientID, store.ErrNotFound)
	}
	delete(a.s.authorizations, k)
	return nil
}

func (a authorizations) List(_ context.Context, subject, clientID string) ([]*store.Authorization, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	var out []*store.Authorization
	for k, au := range a.s.authorizations {
		if (subject == "" || k.subject == subject) && (clientID == "" || k.clientID == clientID) {
			out = append(out, mustClone(au))
		}
	}
	slices.SortFunc(out, func(x, y *store.Authorization) int {
		return strings.Compare(x.Subject+"\x00"+x.ClientID, y.Subject+"\x00"+y.ClientID)
	})
	return out, nil
}

func (a authorizations) Subjects(_ context.Context, after string, limit int) ([]string, error) {
	return a.distinct(after, limit, func(k authzKey) string { return k.subject }), nil
}

func (a authorizations) Clients(_ context.Context, after string, limit int) ([]string, error) {
	return a.distinct(after, limit, func(k authzKey) string { return k.clientID }), nil
}

// distinct pages through the distinct values of one half of the key.
func (a authorizations) distinct(after string, limit int, field func(authzKey) string) []string {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k := range a.s.authorizations {
		if v := field(k); v > after && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	slices.Sort(out)
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

type refreshTokens struct{ s *Store }

func (r refreshTokens) Create(_ context.Context, t *store.RefreshToken) error {
	in, err := clone(t)
	if err != nil {
		return fmt.Errorf("create refresh token: %w", err)
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return r.createLocked(in)
}

func (r refreshTokens) createLocked(in *store.RefreshToken) error {
	if _, ok := r.s.refreshTokens[in.ID]; ok {
		return fmt.Errorf("create refresh token: %w", store.ErrExists)
	}
	if _, ok := r.s.grants[in.GrantID]; !ok {
		return fmt.Errorf("create refresh token: grant %q: %w", in.GrantID, store.ErrNotFound)
	}
	r.s.refreshTokens[in.ID] = in
	return nil
}

func (r refreshTokens) Get(_ context.Context, id string, now time.Time) (*store.RefreshToken, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	t, ok := r.s.refreshTokens[id]
	if !ok || expired(t.ExpiresAt, now) {
		return nil, fmt.Errorf("get refresh token: %w", store.ErrNotFound)
	}
	return mustClone(t), nil
}

func (r refreshTokens) Touch(_ context.Context, id string, now time.Time) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	t, ok := r.s.refreshTokens[id]
	if !ok {
		return fmt.Errorf("touch refresh token: %w", store.ErrNotFound)
	}
	t.LastUsedAt = now.UTC()
	return nil
}

func (r refreshTokens) Rotate(_ context.Context, id string, now time.Time, next *store.RefreshToken) (*store.RefreshToken, error) {
	in, err := clone(next)
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	t, ok := r.s.refreshTokens[id]
	if !ok || expired(t.ExpiresAt, now) {
		return nil, fmt.Errorf("rotate refresh token: %w", store.ErrNotFound)
	}
	if !t.RotatedAt.IsZero() {
		return mustClone(t), fmt.Errorf("rotate refresh token: %w", store.ErrConsumed)
	}
	if err := r.createLocked(in); err != nil {
		return nil, fmt.Errorf("rotate: %w", err)
	}
	t.RotatedAt = now.UTC()
	// Older generations: only the token just rotated is needed to
	// recognise a replay.
	for oid, o := range r.s.refreshTokens {
		if o.GrantID == t.GrantID && oid != id && !o.RotatedAt.IsZero() {
			delete(r.s.refreshTokens, oid)
		}
	}
	return mustClone(t), nil
}

type accessTokens struct{ s *Store }

func (a accessTokens) Create(_ context.Context, t *store.AccessToken) error {
	in, err := clone(t)
	if err != nil {
		return fmt.Errorf("create access token: %w", err)
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.accessTokens[in.ID]; ok {
		return fmt.Errorf("create access token: %w", store.ErrExists)
	}
	if _, ok := a.s.grants[in.GrantID]; !ok {
		return fmt.Errorf("create access token: grant %q: %w", in.GrantID, store.ErrNotFound)
	}
	a.s.accessTokens[in.ID] = in
	return nil
}

func (a accessTokens) Get(_ context.Context, id string, now time.Time) (*store.AccessToken, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	t, ok := a.s.accessTokens[id]
	if !ok || expired(t.ExpiresAt, now) {
		return nil, fmt.Errorf("get access token: %w", store.ErrNotFound)
	}
	return mustClone(t), nil
}

func (a accessTokens) Delete(_ context.Context, id string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.accessTokens[id]; !ok {
		return fmt.Errorf("delete access token: %w", store.ErrNotFound)
	}
	delete(a.s.accessTokens, id)
	return nil
}

type keys struct{ s *Store }

func (k keys) List(_ context.Context) ([]*store.SigningKey, error) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	out := make([]*store.SigningKey, 0, len(k.s.keys))
	for _, key := range k.s.keys {
		out = append(out, mustClone(key))
	}
	sortedBy(out, func(k *store.SigningKey) time.Time { return k.CreatedAt }, func(k *store.SigningKey) string { return k.ID }, false)
	return out, nil
}

// cloneNewKeys copies keys and checks that their IDs are new.
func (k keys) cloneNewKeys(in []*store.SigningKey) ([]*store.SigningKey, error) {
	out := make([]*store.SigningKey, 0, len(in))
	seen := map[string]bool{}
	for _, key := range in {
		c, err := clone(key)
		if err != nil {
			return nil, err
		}
		if _, ok := k.s.keys[c.ID]; ok || seen[c.ID] {
			return nil, fmt.Errorf("key %q: %w", c.ID, store.ErrExists)
		}
		seen[c.ID] = true
		out = append(out, c)
	}
	return out, nil
}

func (k keys) AddIfEmpty(_ context.Context, in []*store.SigningKey) (bool, error) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	if len(k.s.keys) > 0 {
		return false, nil
	}
	add, err := k.cloneNewKeys(in)
	if err != nil {
		return false, fmt.Errorf("add keys: %w", err)
	}
	for _, key := range add {
		k.s.keys[key.ID] = key
	}
	return true, nil
}

func (k keys) Rotate(_ context.Context, next []*store.SigningKey, now, deleteAfter time.Time) error {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	add, err := k.cloneNewKeys(next)
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	algs := map[string]bool{}
	for _, key := range add {
		algs[key.Alg] = true
	}
	for _, key := range k.s.keys {
		if key.RetiredAt.IsZero() && algs[key.Alg] {
			key.RetiredAt, key.DeleteAfter = now.UTC(), deleteAfter.UTC()
		}
	}
	for _, key := range add {
		k.s.keys[key.ID] = key
	}
	return nil
}

func (k keys) DeleteRetired(_ context.Context, now time.Time) (int, error) {
	k.s.mu.Lock()
	defer k.s.mu.Unlock()
	n := 0
	for id, key := range k.s.keys {
		if !key.RetiredAt.IsZero() && !key.DeleteAfter.IsZero() && key.DeleteAfter.Before(now) {
			delete(k.s.keys, id)
			n++
		}
	}
	return n, nil
}

type durablePurger struct{ s *Store }

// Purge removes expired grants (with their tokens), refresh tokens, access
// tokens and revocation journal entries, at most limit of each.
func (p durablePurger) Purge(_ context.Context, now time.Time, limit int) (int, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	n := purgeMap(p.s.accessTokens, limit, func(t *store.AccessToken) bool { return expired(t.ExpiresAt, now) })
	n += purgeMap(p.s.refreshTokens, limit, func(t *store.RefreshToken) bool { return expired(t.ExpiresAt, now) })
	g := grants(p)
	removed := 0
	for id, gr := range p.s.grants {
		if removed >= limit {
			break
		}
		if expired(gr.ExpiresAt, now) {
			g.deleteLocked(id)
			removed++
		}
	}
	n += purgeMap(p.s.revocations, limit, func(r *store.Revocation) bool { return expired(r.ExpiresAt, now) })
	return n + removed, nil
}

// purgeMap deletes up to limit entries for which gone is true.
func purgeMap[K comparable, V any](m map[K]V, limit int, gone func(V) bool) int {
	n := 0
	for k, v := range m {
		if n >= limit {
			break
		}
		if gone(v) {
			delete(m, k)
			n++
		}
	}
	return n
}

type revocations struct{ s *Store }

func (r revocations) Add(_ context.Context, in *store.Revocation) error {
	rec := *in
	store.NormalizeTimes(&rec)
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if _, ok := r.s.revocations[rec.ID]; ok {
		return fmt.Errorf("add revocation %q: %w", rec.ID, store.ErrExists)
	}
	r.s.revocations[rec.ID] = &rec
	return nil
}

func (r revocations) ListLive(_ context.Context, now time.Time) ([]*store.Revocation, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	var out []*store.Revocation
	for _, rec := range r.s.revocations {
		if !expired(rec.ExpiresAt, now) {
			c := *rec
			out = append(out, &c)
		}
	}
	sortedBy(out, func(r *store.Revocation) time.Time { return r.RevokedAt }, func(r *store.Revocation) string { return r.ID }, false)
	return out, nil
}
