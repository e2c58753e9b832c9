package tracing

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/store"
)

// Durable wraps every durable store so that each call is a span named
// store.<Interface>.<Method>; with tracing off it returns d unchanged. The
// notifier is left as it is: its subscriptions outlive any request.
func (t *Tracer) Durable(d store.Durable) store.Durable {
	if t == nil {
		return d
	}
	d.Clients = tracedClientStore{t, d.Clients}
	d.Authorizations = tracedAuthorizationStore{t, d.Authorizations}
	d.Grants = tracedGrantStore{t, d.Grants}
	d.RefreshTokens = tracedRefreshTokenStore{t, d.RefreshTokens}
	d.AccessTokens = tracedAccessTokenStore{t, d.AccessTokens}
	d.Keys = tracedKeyStore{t, d.Keys}
	d.Revocations = tracedRevocationJournal{t, d.Revocations}
	if d.Purger != nil {
		d.Purger = tracedPurger{t, d.Purger}
	}
	return d
}

// Ephemeral wraps every ephemeral store as Durable does.
func (t *Tracer) Ephemeral(e store.Ephemeral) store.Ephemeral {
	if t == nil {
		return e
	}
	e.AuthzSessions = tracedAuthzSessionStore{t, e.AuthzSessions}
	e.SubjectSessions = tracedSubjectSessionStore{t, e.SubjectSessions}
	e.Codes = tracedCodeStore{t, e.Codes}
	e.PAR = tracedPARStore{t, e.PAR}
	e.Replay = tracedReplayCache{t, e.Replay}
	if e.Purger != nil {
		e.Purger = tracedPurger{t, e.Purger}
	}
	return e
}

// storeErr is the error a span records: the store's expected answers (not
// found, conflict, consumed) are outcomes the protocol handles, not faults.
func storeErr(err error) error {
	for _, expected := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict, store.ErrConsumed} {
		if errors.Is(err, expected) {
			return nil
		}
	}
	return err
}

// The decorators below follow the store interfaces one for one.

type tracedClientStore struct {
	t    *Tracer
	next store.ClientStore
}

func (w tracedClientStore) Create(ctx context.Context, c *store.Client) error {
	ctx, span := w.t.start(ctx, "store.ClientStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, c)
	end(span, storeErr(err))
	return err
}

func (w tracedClientStore) Get(ctx context.Context, id string) (*store.Client, error) {
	ctx, span := w.t.start(ctx, "store.ClientStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id)
	end(span, storeErr(err))
	return v, err
}

func (w tracedClientStore) Update(ctx context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	ctx, span := w.t.start(ctx, "store.ClientStore.Update", trace.SpanKindInternal)
	v, err := w.next.Update(ctx, id, fn)
	end(span, storeErr(err))
	return v, err
}

func (w tracedClientStore) Delete(ctx context.Context, id string) error {
	ctx, span := w.t.start(ctx, "store.ClientStore.Delete", trace.SpanKindInternal)
	err := w.next.Delete(ctx, id)
	end(span, storeErr(err))
	return err
}

func (w tracedClientStore) List(ctx context.Context, after string, limit int) ([]*store.Client, error) {
	ctx, span := w.t.start(ctx, "store.ClientStore.List", trace.SpanKindInternal)
	v, err := w.next.List(ctx, after, limit)
	end(span, storeErr(err))
	return v, err
}

type tracedAuthorizationStore struct {
	t    *Tracer
	next store.AuthorizationStore
}

func (w tracedAuthorizationStore) Put(ctx context.Context, a *store.Authorization) error {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.Put", trace.SpanKindInternal)
	err := w.next.Put(ctx, a)
	end(span, storeErr(err))
	return err
}

func (w tracedAuthorizationStore) Get(ctx context.Context, subject, clientID string) (*store.Authorization, error) {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, subject, clientID)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAuthorizationStore) Delete(ctx context.Context, subject, clientID string) error {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.Delete", trace.SpanKindInternal)
	err := w.next.Delete(ctx, subject, clientID)
	end(span, storeErr(err))
	return err
}

func (w tracedAuthorizationStore) List(ctx context.Context, subject, clientID string) ([]*store.Authorization, error) {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.List", trace.SpanKindInternal)
	v, err := w.next.List(ctx, subject, clientID)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAuthorizationStore) Subjects(ctx context.Context, after string, limit int) ([]string, error) {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.Subjects", trace.SpanKindInternal)
	v, err := w.next.Subjects(ctx, after, limit)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAuthorizationStore) Clients(ctx context.Context, after string, limit int) ([]string, error) {
	ctx, span := w.t.start(ctx, "store.AuthorizationStore.Clients", trace.SpanKindInternal)
	v, err := w.next.Clients(ctx, after, limit)
	end(span, storeErr(err))
	return v, err
}

type tracedGrantStore struct {
	t    *Tracer
	next store.GrantStore
}

func (w tracedGrantStore) Create(ctx context.Context, g *store.Grant) error {
	ctx, span := w.t.start(ctx, "store.GrantStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, g)
	end(span, storeErr(err))
	return err
}

func (w tracedGrantStore) Get(ctx context.Context, id string, now time.Time) (*store.Grant, error) {
	ctx, span := w.t.start(ctx, "store.GrantStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedGrantStore) Delete(ctx context.Context, id string) error {
	ctx, span := w.t.start(ctx, "store.GrantStore.Delete", trace.SpanKindInternal)
	err := w.next.Delete(ctx, id)
	end(span, storeErr(err))
	return err
}

func (w tracedGrantStore) DeleteMatching(ctx context.Context, f store.GrantFilter) (int, error) {
	ctx, span := w.t.start(ctx, "store.GrantStore.DeleteMatching", trace.SpanKindInternal)
	v, err := w.next.DeleteMatching(ctx, f)
	end(span, storeErr(err))
	return v, err
}

func (w tracedGrantStore) List(ctx context.Context, f store.GrantFilter, now time.Time) ([]*store.Grant, error) {
	ctx, span := w.t.start(ctx, "store.GrantStore.List", trace.SpanKindInternal)
	v, err := w.next.List(ctx, f, now)
	end(span, storeErr(err))
	return v, err
}

type tracedRefreshTokenStore struct {
	t    *Tracer
	next store.RefreshTokenStore
}

func (w tracedRefreshTokenStore) Create(ctx context.Context, t *store.RefreshToken) error {
	ctx, span := w.t.start(ctx, "store.RefreshTokenStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, t)
	end(span, storeErr(err))
	return err
}

func (w tracedRefreshTokenStore) Get(ctx context.Context, id string, now time.Time) (*store.RefreshToken, error) {
	ctx, span := w.t.start(ctx, "store.RefreshTokenStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedRefreshTokenStore) Touch(ctx context.Context, id string, now time.Time) error {
	ctx, span := w.t.start(ctx, "store.RefreshTokenStore.Touch", trace.SpanKindInternal)
	err := w.next.Touch(ctx, id, now)
	end(span, storeErr(err))
	return err
}

func (w tracedRefreshTokenStore) Rotate(ctx context.Context, id string, now time.Time, next *store.RefreshToken) (*store.RefreshToken, error) {
	ctx, span := w.t.start(ctx, "store.RefreshTokenStore.Rotate", trace.SpanKindInternal)
	v, err := w.next.Rotate(ctx, id, now, next)
	end(span, storeErr(err))
	return v, err
}

type tracedAccessTokenStore struct {
	t    *Tracer
	next store.AccessTokenStore
}

func (w tracedAccessTokenStore) Create(ctx context.Context, t *store.AccessToken) error {
	ctx, span := w.t.start(ctx, "store.AccessTokenStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, t)
	end(span, storeErr(err))
	return err
}

func (w tracedAccessTokenStore) Get(ctx context.Context, id string, now time.Time) (*store.AccessToken, error) {
	ctx, span := w.t.start(ctx, "store.AccessTokenStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAccessTokenStore) Delete(ctx context.Context, id string) error {
	ctx, span := w.t.start(ctx, "store.AccessTokenStore.Delete", trace.SpanKindInternal)
	err := w.next.Delete(ctx, id)
	end(span, storeErr(err))
	return err
}

type tracedKeyStore struct {
	t    *Tracer
	next store.KeyStore
}

func (w tracedKeyStore) List(ctx context.Context) ([]*store.SigningKey, error) {
	ctx, span := w.t.start(ctx, "store.KeyStore.List", trace.SpanKindInternal)
	v, err := w.next.List(ctx)
	end(span, storeErr(err))
	return v, err
}

func (w tracedKeyStore) AddIfEmpty(ctx context.Context, keys []*store.SigningKey) (bool, error) {
	ctx, span := w.t.start(ctx, "store.KeyStore.AddIfEmpty", trace.SpanKindInternal)
	v, err := w.next.AddIfEmpty(ctx, keys)
	end(span, storeErr(err))
	return v, err
}

func (w tracedKeyStore) Rotate(ctx context.Context, next []*store.SigningKey, now, deleteAfter time.Time) error {
	ctx, span := w.t.start(ctx, "store.KeyStore.Rotate", trace.SpanKindInternal)
	err := w.next.Rotate(ctx, next, now, deleteAfter)
	end(span, storeErr(err))
	return err
}

func (w tracedKeyStore) DeleteRetired(ctx context.Context, now time.Time) (int, error) {
	ctx, span := w.t.start(ctx, "store.KeyStore.DeleteRetired", trace.SpanKindInternal)
	v, err := w.next.DeleteRetired(ctx, now)
	end(span, storeErr(err))
	return v, err
}

type tracedRevocationJournal struct {
	t    *Tracer
	next store.RevocationJournal
}

func (w tracedRevocationJournal) Add(ctx context.Context, r *store.Revocation) error {
	ctx, span := w.t.start(ctx, "store.RevocationJournal.Add", trace.SpanKindInternal)
	err := w.next.Add(ctx, r)
	end(span, storeErr(err))
	return err
}

func (w tracedRevocationJournal) ListLive(ctx context.Context, now time.Time) ([]*store.Revocation, error) {
	ctx, span := w.t.start(ctx, "store.RevocationJournal.ListLive", trace.SpanKindInternal)
	v, err := w.next.ListLive(ctx, now)
	end(span, storeErr(err))
	return v, err
}

type tracedAuthzSessionStore struct {
	t    *Tracer
	next store.AuthzSessionStore
}

func (w tracedAuthzSessionStore) Create(ctx context.Context, s *store.AuthzSession) error {
	ctx, span := w.t.start(ctx, "store.AuthzSessionStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, s)
	end(span, storeErr(err))
	return err
}

func (w tracedAuthzSessionStore) Get(ctx context.Context, id string, now time.Time) (*store.AuthzSession, error) {
	ctx, span := w.t.start(ctx, "store.AuthzSessionStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAuthzSessionStore) Update(ctx context.Context, id string, now time.Time, fn func(*store.AuthzSession) error) (*store.AuthzSession, error) {
	ctx, span := w.t.start(ctx, "store.AuthzSessionStore.Update", trace.SpanKindInternal)
	v, err := w.next.Update(ctx, id, now, fn)
	end(span, storeErr(err))
	return v, err
}

func (w tracedAuthzSessionStore) Delete(ctx context.Context, id string) error {
	ctx, span := w.t.start(ctx, "store.AuthzSessionStore.Delete", trace.SpanKindInternal)
	err := w.next.Delete(ctx, id)
	end(span, storeErr(err))
	return err
}

type tracedSubjectSessionStore struct {
	t    *Tracer
	next store.SubjectSessionStore
}

func (w tracedSubjectSessionStore) Create(ctx context.Context, s *store.SubjectSession) error {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, s)
	end(span, storeErr(err))
	return err
}

func (w tracedSubjectSessionStore) Get(ctx context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.Get", trace.SpanKindInternal)
	v, err := w.next.Get(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedSubjectSessionStore) Update(ctx context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.Update", trace.SpanKindInternal)
	v, err := w.next.Update(ctx, id, now, fn)
	end(span, storeErr(err))
	return v, err
}

func (w tracedSubjectSessionStore) Delete(ctx context.Context, id string) (*store.SubjectSession, error) {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.Delete", trace.SpanKindInternal)
	v, err := w.next.Delete(ctx, id)
	end(span, storeErr(err))
	return v, err
}

func (w tracedSubjectSessionStore) ListBySubject(ctx context.Context, subject string, now time.Time) ([]*store.SubjectSession, error) {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.ListBySubject", trace.SpanKindInternal)
	v, err := w.next.ListBySubject(ctx, subject, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedSubjectSessionStore) TakeExpired(ctx context.Context, now time.Time, limit int) ([]*store.SubjectSession, error) {
	ctx, span := w.t.start(ctx, "store.SubjectSessionStore.TakeExpired", trace.SpanKindInternal)
	v, err := w.next.TakeExpired(ctx, now, limit)
	end(span, storeErr(err))
	return v, err
}

type tracedCodeStore struct {
	t    *Tracer
	next store.CodeStore
}

func (w tracedCodeStore) Create(ctx context.Context, c *store.Code) error {
	ctx, span := w.t.start(ctx, "store.CodeStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, c)
	end(span, storeErr(err))
	return err
}

func (w tracedCodeStore) Consume(ctx context.Context, id string, now time.Time) (*store.Code, error) {
	ctx, span := w.t.start(ctx, "store.CodeStore.Consume", trace.SpanKindInternal)
	v, err := w.next.Consume(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

type tracedPARStore struct {
	t    *Tracer
	next store.PARStore
}

func (w tracedPARStore) Create(ctx context.Context, r *store.PushedRequest) error {
	ctx, span := w.t.start(ctx, "store.PARStore.Create", trace.SpanKindInternal)
	err := w.next.Create(ctx, r)
	end(span, storeErr(err))
	return err
}

func (w tracedPARStore) Consume(ctx context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	ctx, span := w.t.start(ctx, "store.PARStore.Consume", trace.SpanKindInternal)
	v, err := w.next.Consume(ctx, id, now)
	end(span, storeErr(err))
	return v, err
}

func (w tracedPARStore) DeleteByClient(ctx context.Context, clientID string) (int, error) {
	ctx, span := w.t.start(ctx, "store.PARStore.DeleteByClient", trace.SpanKindInternal)
	v, err := w.next.DeleteByClient(ctx, clientID)
	end(span, storeErr(err))
	return v, err
}

type tracedReplayCache struct {
	t    *Tracer
	next store.ReplayCache
}

func (w tracedReplayCache) MarkUsed(ctx context.Context, key string, until, now time.Time) (alreadyUsed bool, err error) {
	ctx, span := w.t.start(ctx, "store.ReplayCache.MarkUsed", trace.SpanKindInternal)
	v, err := w.next.MarkUsed(ctx, key, until, now)
	end(span, storeErr(err))
	return v, err
}

type tracedPurger struct {
	t    *Tracer
	next store.Purger
}

func (w tracedPurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	ctx, span := w.t.start(ctx, "store.Purger.Purge", trace.SpanKindInternal)
	v, err := w.next.Purge(ctx, now, limit)
	end(span, storeErr(err))
	return v, err
}
