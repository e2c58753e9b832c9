package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/store"
)

// Store holds every record in memory. The zero value is not usable; call
// Open.
// All methods are safe for concurrent use. Update functions run under the
// store's lock and must not call back into the store.
type Store struct {
	mu              sync.Mutex
	clients         map[string]*store.Client
	grants          map[string]*store.Grant
	authorizations  map[authzKey]*store.Authorization
	refreshTokens   map[string]*store.RefreshToken
	accessTokens    map[string]*store.AccessToken
	keys            map[string]*store.SigningKey
	revocations     map[string]*store.Revocation
	authzSessions   map[string]*store.AuthzSession
	subjectSessions map[string]*store.SubjectSession
	codes           map[string]*single[store.Code]
	par             map[string]*single[store.PushedRequest]
	replay          map[string]time.Time
	notifier        *Notifier
	log             *slog.Logger
}

type authzKey struct{ subject, clientID string }

// single is a single-use record and whether it has been consumed.
type single[T any] struct {
	rec      *T
	consumed bool
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger (default: discard); nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Open returns an empty store. It fails only when ctx has ended, and has
// the signature of every backend's Open so that callers treat them alike.
func Open(ctx context.Context, opts ...Option) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: open: %w", err)
	}
	s := &Store{
		clients:         map[string]*store.Client{},
		grants:          map[string]*store.Grant{},
		authorizations:  map[authzKey]*store.Authorization{},
		refreshTokens:   map[string]*store.RefreshToken{},
		accessTokens:    map[string]*store.AccessToken{},
		keys:            map[string]*store.SigningKey{},
		revocations:     map[string]*store.Revocation{},
		authzSessions:   map[string]*store.AuthzSession{},
		subjectSessions: map[string]*store.SubjectSession{},
		codes:           map[string]*single[store.Code]{},
		par:             map[string]*single[store.PushedRequest]{},
		replay:          map[string]time.Time{},
		notifier:        NewNotifier(),
		log:             slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(s)
	}
	s.log.DebugContext(ctx, "memory store open; nothing survives a restart")
	return s, nil
}

// Close releases nothing (the maps go with the last reference) and returns
// nil; it exists so that every backend closes the same way.
func (s *Store) Close() error { return nil }

// Notifier returns the in-process notifier, also set in Durable.
func (s *Store) Notifier() store.Notifier { return s.notifier }

// Durable returns the durable stores, backed by s.
func (s *Store) Durable() store.Durable {
	return store.Durable{
		Clients:        clients{s},
		Authorizations: authorizations{s},
		Grants:         grants{s},
		RefreshTokens:  refreshTokens{s},
		AccessTokens:   accessTokens{s},
		Keys:           keys{s},
		Revocations:    revocations{s},
		Purger:         durablePurger{s},
		Notifier:       s.notifier,
	}
}

// Ephemeral returns the ephemeral stores, backed by s.
func (s *Store) Ephemeral() store.Ephemeral {
	return store.Ephemeral{
		AuthzSessions:   authzSessions{s},
		SubjectSessions: subjectSessions{s},
		Codes:           codes{s},
		PAR:             pars{s},
		Replay:          replay{s},
		Purger:          ephemeralPurger{s},
	}
}

// clone deep-copies v through its JSON form and turns every time into UTC,
// so that memstore behaves like the backends that store JSON.
func clone[T any](v *T) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("copy %T: %w", v, err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("copy %T: %w", v, err)
	}
	store.NormalizeTimes(out)
	return out, nil
}

// mustClone copies a record that was cloned successfully on the way in; its
// JSON form cannot fail again.
func mustClone[T any](v *T) *T {
	out, err := clone(v)
	if err != nil {
		panic("memstore: stored record no longer copies: " + err.Error())
	}
	return out
}

// expired reports whether a record expiring at exp is gone at now; a zero
// exp never expires.
func expired(exp, now time.Time) bool {
	return !exp.IsZero() && !now.Before(exp)
}

// update is the read-modify-write shared by every Update: fn works on a
// copy and the copy replaces the record only if fn succeeds. The key is
// restored after fn so that fn cannot move a record.
func update[T any](m map[string]*T, id string, live func(*T) bool, fn func(*T) error, setID func(*T)) (*T, error) {
	cur, ok := m[id]
	if !ok || !live(cur) {
		return nil, store.ErrNotFound
	}
	work := mustClone(cur)
	if err := fn(work); err != nil {
		return nil, err
	}
	setID(work)
	next, err := clone(work)
	if err != nil {
		return nil, err
	}
	m[id] = next
	return mustClone(next), nil
}

// sortedBy sorts records by key and then by ID for a stable order.
func sortedBy[T any](recs []*T, key func(*T) time.Time, id func(*T) string, desc bool) {
	slices.SortFunc(recs, func(a, b *T) int {
		c := key(a).Compare(key(b))
		if desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(id(a), id(b))
	})
}
