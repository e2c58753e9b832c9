package session

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/store"
)

// fakeStore is a minimal SubjectSessionStore honouring the store/doc.go
// semantics, until store/memstore exists.
type fakeStore struct {
	mu sync.Mutex
	m  map[string]store.SubjectSession
}

func newFakeStore() *fakeStore { return &fakeStore{m: map[string]store.SubjectSession{}} }

func clone(s store.SubjectSession) *store.SubjectSession {
	s.AMR = slices.Clone(s.AMR)
	s.RPs = slices.Clone(s.RPs)
	return &s
}

func (f *fakeStore) Create(_ context.Context, s *store.SubjectSession) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[s.ID]; ok {
		return fmt.Errorf("create %q: %w", s.ID, store.ErrExists)
	}
	f.m[s.ID] = *clone(*s)
	return nil
}

func (f *fakeStore) Get(_ context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[id]
	if !ok || !now.Before(s.ExpiresAt) {
		return nil, fmt.Errorf("get %q: %w", id, store.ErrNotFound)
	}
	return clone(s), nil
}

func (f *fakeStore) Update(_ context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.m[id]
	if !ok || !now.Before(s.ExpiresAt) {
		return nil, fmt.Errorf("update %q: %w", id, store.ErrNotFound)
	}
	c := clone(s)
	if err := fn(c); err != nil {
		return nil, err
	}
	f.m[id] = *clone(*c)
	return c, nil
}

func (f *fakeStore) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[id]; !ok {
		return fmt.Errorf("delete %q: %w", id, store.ErrNotFound)
	}
	delete(f.m, id)
	return nil
}

func (f *fakeStore) ListBySubject(_ context.Context, sub string, now time.Time) ([]*store.SubjectSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*store.SubjectSession
	for _, s := range f.m {
		if s.Subject == sub && now.Before(s.ExpiresAt) {
			out = append(out, clone(s))
		}
	}
	slices.SortFunc(out, func(a, b *store.SubjectSession) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}
