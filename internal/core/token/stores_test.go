package token

// Small in-memory stores with the semantics of store/doc.go, standing in
// for store/memstore until it is committed. They implement only what the
// token core calls.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/store"
)

type memStores struct {
	mu      sync.Mutex
	clients map[string]*store.Client
	codes   map[string]*codeEntry
	grants  map[string]*store.Grant
	rts     map[string]*store.RefreshToken
	ats     map[string]*store.AccessToken
	replay  map[string]time.Time
	keys    []*store.SigningKey
}

type codeEntry struct {
	code     store.Code
	consumed bool
}

func newMemStores() *memStores {
	return &memStores{
		clients: map[string]*store.Client{},
		codes:   map[string]*codeEntry{},
		grants:  map[string]*store.Grant{},
		rts:     map[string]*store.RefreshToken{},
		ats:     map[string]*store.AccessToken{},
		replay:  map[string]time.Time{},
	}
}

func notFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, store.ErrNotFound) }

// clients

type clientStore struct{ m *memStores }

func (s clientStore) Get(_ context.Context, id string) (*store.Client, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	c, ok := s.m.clients[id]
	if !ok {
		return nil, notFound("client", id)
	}
	cp := *c
	return &cp, nil
}

// codes

type codeStore struct{ m *memStores }

func (s codeStore) Create(_ context.Context, c *store.Code) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.codes[c.ID]; ok {
		return store.ErrExists
	}
	s.m.codes[c.ID] = &codeEntry{code: *c}
	return nil
}

func (s codeStore) Consume(_ context.Context, id string, now time.Time) (*store.Code, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	e, ok := s.m.codes[id]
	if !ok || !now.Before(e.code.ExpiresAt) {
		return nil, notFound("code", id)
	}
	cp := e.code
	if e.consumed {
		return &cp, store.ErrConsumed
	}
	e.consumed = true
	return &cp, nil
}

// grants

type grantStore struct{ m *memStores }

func (s grantStore) Create(_ context.Context, g *store.Grant) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.grants[g.ID]; ok {
		return store.ErrExists
	}
	cp := *g
	s.m.grants[g.ID] = &cp
	return nil
}

func (s grantStore) Get(_ context.Context, id string, now time.Time) (*store.Grant, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	g, ok := s.m.grants[id]
	if !ok || (!g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt)) {
		return nil, notFound("grant", id)
	}
	cp := *g
	return &cp, nil
}

func (s grantStore) Delete(_ context.Context, id string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.grants[id]; !ok {
		return notFound("grant", id)
	}
	delete(s.m.grants, id)
	for k, t := range s.m.rts {
		if t.GrantID == id {
			delete(s.m.rts, k)
		}
	}
	for k, t := range s.m.ats {
		if t.GrantID == id {
			delete(s.m.ats, k)
		}
	}
	return nil
}

func (s grantStore) DeleteMatching(context.Context, store.GrantFilter) (int, error) {
	panic("not used by the token core")
}

func (s grantStore) List(context.Context, store.GrantFilter, time.Time) ([]*store.Grant, error) {
	panic("not used by the token core")
}

// refresh tokens

type rtStore struct{ m *memStores }

func (s rtStore) Create(_ context.Context, t *store.RefreshToken) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return s.createLocked(t)
}

func (s rtStore) createLocked(t *store.RefreshToken) error {
	if _, ok := s.m.rts[t.ID]; ok {
		return store.ErrExists
	}
	if _, ok := s.m.grants[t.GrantID]; !ok {
		return fmt.Errorf("refresh token for missing grant %q", t.GrantID)
	}
	cp := *t
	s.m.rts[t.ID] = &cp
	return nil
}

func (s rtStore) Get(_ context.Context, id string, now time.Time) (*store.RefreshToken, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	t, ok := s.m.rts[id]
	if !ok || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return nil, notFound("refresh token", id)
	}
	cp := *t
	return &cp, nil
}

func (s rtStore) Touch(_ context.Context, id string, now time.Time) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	t, ok := s.m.rts[id]
	if !ok {
		return notFound("refresh token", id)
	}
	t.LastUsedAt = now
	return nil
}

func (s rtStore) Rotate(_ context.Context, id string, now time.Time, next *store.RefreshToken) (*store.RefreshToken, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	t, ok := s.m.rts[id]
	if !ok {
		return nil, notFound("refresh token", id)
	}
	if !t.RotatedAt.IsZero() {
		cp := *t
		return &cp, store.ErrConsumed
	}
	if err := s.createLocked(next); err != nil {
		return nil, err
	}
	t.RotatedAt = now
	cp := *t
	return &cp, nil
}

// access tokens

type atStore struct{ m *memStores }

func (s atStore) Create(_ context.Context, t *store.AccessToken) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.ats[t.ID]; ok {
		return store.ErrExists
	}
	if _, ok := s.m.grants[t.GrantID]; !ok {
		return fmt.Errorf("access token for missing grant %q", t.GrantID)
	}
	cp := *t
	s.m.ats[t.ID] = &cp
	return nil
}

func (s atStore) Get(_ context.Context, id string, now time.Time) (*store.AccessToken, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	t, ok := s.m.ats[id]
	if !ok || !now.Before(t.ExpiresAt) {
		return nil, notFound("access token", id)
	}
	cp := *t
	return &cp, nil
}

func (s atStore) Delete(_ context.Context, id string) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if _, ok := s.m.ats[id]; !ok {
		return notFound("access token", id)
	}
	delete(s.m.ats, id)
	return nil
}

// replay cache

type replayCache struct{ m *memStores }

func (s replayCache) MarkUsed(_ context.Context, key string, until, now time.Time) (bool, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if exp, ok := s.m.replay[key]; ok && now.Before(exp) {
		return true, nil
	}
	s.m.replay[key] = until
	return false, nil
}

// signing keys, for a real jose.KeyManager

type keyStore struct{ m *memStores }

func (s keyStore) List(context.Context) ([]*store.SigningKey, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	return slices.Clone(s.m.keys), nil
}

func (s keyStore) AddIfEmpty(_ context.Context, keys []*store.SigningKey) (bool, error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if len(s.m.keys) > 0 {
		return false, nil
	}
	s.m.keys = slices.Clone(keys)
	return true, nil
}

func (s keyStore) Rotate(context.Context, []*store.SigningKey, time.Time, time.Time) error {
	panic("not used by these tests")
}

func (s keyStore) DeleteRetired(context.Context, time.Time) (int, error) {
	panic("not used by these tests")
}
