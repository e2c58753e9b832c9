package memstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/store"
)

type authzSessions struct{ s *Store }

func (a authzSessions) Create(_ context.Context, as *store.AuthzSession) error {
	in, err := clone(as)
	if err != nil {
		return fmt.Errorf("create authz session: %w", err)
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.authzSessions[in.ID]; ok {
		return fmt.Errorf("create authz session: %w", store.ErrExists)
	}
	a.s.authzSessions[in.ID] = in
	return nil
}

func (a authzSessions) Get(_ context.Context, id string, now time.Time) (*store.AuthzSession, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	as, ok := a.s.authzSessions[id]
	if !ok || expired(as.ExpiresAt, now) {
		return nil, fmt.Errorf("get authz session: %w", store.ErrNotFound)
	}
	return mustClone(as), nil
}

func (a authzSessions) Update(_ context.Context, id string, now time.Time, fn func(*store.AuthzSession) error) (*store.AuthzSession, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	out, err := update(a.s.authzSessions, id,
		func(as *store.AuthzSession) bool { return !expired(as.ExpiresAt, now) },
		fn, func(as *store.AuthzSession) { as.ID = id })
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("update authz session: %w", err)
	}
	return out, err
}

func (a authzSessions) Delete(_ context.Context, id string) error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.authzSessions[id]; !ok {
		return fmt.Errorf("delete authz session: %w", store.ErrNotFound)
	}
	delete(a.s.authzSessions, id)
	return nil
}

type subjectSessions struct{ s *Store }

func (ss subjectSessions) Create(_ context.Context, s *store.SubjectSession) error {
	in, err := clone(s)
	if err != nil {
		return fmt.Errorf("create subject session: %w", err)
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if _, ok := ss.s.subjectSessions[in.ID]; ok {
		return fmt.Errorf("create subject session: %w", store.ErrExists)
	}
	ss.s.subjectSessions[in.ID] = in
	return nil
}

func (ss subjectSessions) Get(_ context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	s, ok := ss.s.subjectSessions[id]
	if !ok || expired(s.ExpiresAt, now) {
		return nil, fmt.Errorf("get subject session: %w", store.ErrNotFound)
	}
	return mustClone(s), nil
}

func (ss subjectSessions) Update(_ context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	out, err := update(ss.s.subjectSessions, id,
		func(s *store.SubjectSession) bool { return !expired(s.ExpiresAt, now) },
		fn, func(s *store.SubjectSession) { s.ID = id })
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("update subject session: %w", err)
	}
	return out, err
}

func (ss subjectSessions) Delete(_ context.Context, id string) (*store.SubjectSession, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	s, ok := ss.s.subjectSessions[id]
	if !ok {
		return nil, fmt.Errorf("delete subject session: %w", store.ErrNotFound)
	}
	delete(ss.s.subjectSessions, id)
	return s, nil
}

// TakeExpired removes and returns up to limit expired sessions, earliest
// expiry first.
func (ss subjectSessions) TakeExpired(_ context.Context, now time.Time, limit int) ([]*store.SubjectSession, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	var out []*store.SubjectSession
	for _, s := range ss.s.subjectSessions {
		if expired(s.ExpiresAt, now) {
			out = append(out, s)
		}
	}
	sortedBy(out, func(s *store.SubjectSession) time.Time { return s.ExpiresAt }, func(s *store.SubjectSession) string { return s.ID }, false)
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	for _, s := range out {
		delete(ss.s.subjectSessions, s.ID)
	}
	return out, nil
}

func (ss subjectSessions) ListBySubject(_ context.Context, subject string, now time.Time) ([]*store.SubjectSession, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	var out []*store.SubjectSession
	for _, s := range ss.s.subjectSessions {
		if s.Subject == subject && !expired(s.ExpiresAt, now) {
			out = append(out, mustClone(s))
		}
	}
	sortedBy(out, func(s *store.SubjectSession) time.Time { return s.CreatedAt }, func(s *store.SubjectSession) string { return s.ID }, false)
	return out, nil
}

// createSingle stores a new single-use record.
func createSingle[T any](s *Store, m map[string]*single[T], id string, rec *T) error {
	in, err := clone(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := m[id]; ok {
		return store.ErrExists
	}
	m[id] = &single[T]{rec: in}
	return nil
}

// consume flips the consumed flag once under the lock; later callers get the
// record with ErrConsumed until it expires.
func consume[T any](s *Store, m map[string]*single[T], id string, now time.Time, expiresAt func(*T) time.Time) (*T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := m[id]
	if !ok || expired(expiresAt(e.rec), now) {
		return nil, store.ErrNotFound
	}
	if e.consumed {
		return mustClone(e.rec), store.ErrConsumed
	}
	e.consumed = true
	return mustClone(e.rec), nil
}

type codes struct{ s *Store }

func (c codes) Create(_ context.Context, code *store.Code) error {
	if err := createSingle(c.s, c.s.codes, code.ID, code); err != nil {
		return fmt.Errorf("create code: %w", err)
	}
	return nil
}

func (c codes) Consume(_ context.Context, id string, now time.Time) (*store.Code, error) {
	code, err := consume(c.s, c.s.codes, id, now, func(c *store.Code) time.Time { return c.ExpiresAt })
	if err != nil {
		return code, fmt.Errorf("consume code: %w", err)
	}
	return code, nil
}

type pars struct{ s *Store }

func (p pars) Create(_ context.Context, r *store.PushedRequest) error {
	if err := createSingle(p.s, p.s.par, r.ID, r); err != nil {
		return fmt.Errorf("create pushed request: %w", err)
	}
	return nil
}

func (p pars) Consume(_ context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	r, err := consume(p.s, p.s.par, id, now, func(r *store.PushedRequest) time.Time { return r.ExpiresAt })
	if err != nil {
		return r, fmt.Errorf("consume pushed request: %w", err)
	}
	return r, nil
}

func (p pars) DeleteByClient(_ context.Context, clientID string) (int, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	n := 0
	for id, e := range p.s.par {
		if e.rec.ClientID == clientID {
			delete(p.s.par, id)
			n++
		}
	}
	return n, nil
}

type replay struct{ s *Store }

func (r replay) MarkUsed(_ context.Context, key string, until, now time.Time) (bool, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	prev, ok := r.s.replay[key]
	used := ok && now.Before(prev)
	if !used || until.After(prev) {
		r.s.replay[key] = until.UTC()
	}
	return used, nil
}

type ephemeralPurger struct{ s *Store }

// Purge removes expired authorisation sessions, codes, pushed requests and
// replay keys, at most limit of each. Expired subject sessions are left to
// SubjectSessionStore.TakeExpired, whose caller notifies their clients.
func (p ephemeralPurger) Purge(_ context.Context, now time.Time, limit int) (int, error) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	n := purgeMap(p.s.authzSessions, limit, func(s *store.AuthzSession) bool { return expired(s.ExpiresAt, now) })
	n += purgeMap(p.s.codes, limit, func(c *single[store.Code]) bool { return expired(c.rec.ExpiresAt, now) })
	n += purgeMap(p.s.par, limit, func(r *single[store.PushedRequest]) bool { return expired(r.rec.ExpiresAt, now) })
	n += purgeMap(p.s.replay, limit, func(until time.Time) bool { return !now.Before(until) })
	return n, nil
}
