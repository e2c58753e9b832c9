package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/store"
)

// Ephemeral records are stored as the JSON encoding of the store struct in
// a body column, next to the key and expiry columns that queries use. A
// rename of a field of those structs therefore needs a migration (or the
// tolerance to drop in-flight objects).

// liveClause is true for rows that have not expired at $2.
const liveClause = `(expires_at IS NULL OR expires_at > $2)`

// columns maps a record to the columns of its table beside id and body,
// the ones queries filter and order by: their names, and the record's
// values for them in the same order. Each table passes its own mapping,
// so no helper needs to know which table it works on.
type columns[T any] struct {
	names []string
	vals  func(*T) []any
}

var (
	authzSessionCols = columns[store.AuthzSession]{
		names: []string{"created_at", "expires_at"},
		vals:  func(a *store.AuthzSession) []any { return []any{a.CreatedAt.UTC(), tsOrNil(a.ExpiresAt)} },
	}
	subjectSessionCols = columns[store.SubjectSession]{
		names: []string{"created_at", "expires_at", "subject"},
		vals: func(ss *store.SubjectSession) []any {
			return []any{ss.CreatedAt.UTC(), tsOrNil(ss.ExpiresAt), ss.Subject}
		},
	}
	codeCols = columns[store.Code]{
		names: []string{"created_at", "expires_at"},
		vals:  func(c *store.Code) []any { return []any{c.CreatedAt.UTC(), tsOrNil(c.ExpiresAt)} },
	}
	parCols = columns[store.PushedRequest]{
		names: []string{"created_at", "expires_at"},
		vals:  func(r *store.PushedRequest) []any { return []any{r.CreatedAt.UTC(), tsOrNil(r.ExpiresAt)} },
	}
)

// insertBody stores rec as a new row of table with key id. table and the
// column names are constants of this package.
func insertBody[T any](ctx context.Context, db *Store, table, id string, rec *T, cols columns[T]) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode %s: %w", table, err)
	}
	names := append([]string{"id", "body"}, cols.names...)
	params := make([]string, len(names))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	q := `INSERT INTO ` + table + ` (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(params, ", ") + `)`
	if _, err := db.pool.Exec(ctx, q, append([]any{id, b}, cols.vals(rec)...)...); err != nil {
		return fmt.Errorf("create %s: %w", table, mapErr(err))
	}
	return nil
}

// getBody decodes the body of the live row id of table into v.
func getBody(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, table, id string, now time.Time, forUpdate bool, v any) error {
	if !storable(id) {
		return errNotStorable
	}
	sql := `SELECT body FROM ` + table + ` WHERE id = $1 AND ` + liveClause
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	var b []byte
	if err := q.QueryRow(ctx, sql, id, now.UTC()).Scan(&b); err != nil {
		return mapErr(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", table, err)
	}
	store.NormalizeTimes(v)
	return nil
}

func deleteRow(ctx context.Context, db *Store, table, id string) error {
	if !storable(id) {
		return fmt.Errorf("delete %s: %w", table, errNotStorable)
	}
	tag, err := db.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete %s: %w", table, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete %s: %w", table, store.ErrNotFound)
	}
	return nil
}

// errAbort carries an updater's error out of the transaction untouched.
type errAbort struct{ err error }

func (e errAbort) Error() string { return e.err.Error() }

// updateBody runs the read-modify-write of Update under a row lock.
// The updater's error is returned unchanged, as the store contract asks.
func updateBody[T any](ctx context.Context, db *Store, table, id string, now time.Time,
	fn func(*T) error, cols columns[T]) (*T, error) {
	if !storable(id) {
		return nil, fmt.Errorf("update %s: %w", table, errNotStorable)
	}
	var out T
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if err := getBody(ctx, tx, table, id, now, true, &out); err != nil {
			return err
		}
		if err := fn(&out); err != nil {
			return errAbort{err}
		}
		store.NormalizeTimes(&out)
		b, err := json.Marshal(&out)
		if err != nil {
			return fmt.Errorf("encode %s: %w", table, err)
		}
		set := []string{"body = $2"}
		for i, n := range cols.names {
			set = append(set, n+" = $"+strconv.Itoa(i+3))
		}
		_, err = tx.Exec(ctx, `UPDATE `+table+` SET `+strings.Join(set, ", ")+` WHERE id = $1`,
			append([]any{id, b}, cols.vals(&out)...)...)
		return err
	})
	var abort errAbort
	if errors.As(err, &abort) {
		return nil, abort.err
	}
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", table, err)
	}
	return &out, nil
}

// consumeBody marks row id of table consumed at now with one conditional
// UPDATE: row locking makes every concurrent caller after the first see
// consumed_at set and match nothing. A miss is then told apart as consumed
// (the record with ErrConsumed) or unknown/expired (ErrNotFound).
func consumeBody(ctx context.Context, db *Store, table, id string, now time.Time, v any) error {
	if !storable(id) {
		return fmt.Errorf("consume %s: %w", table, errNotStorable)
	}
	var b []byte
	err := db.pool.QueryRow(ctx, `UPDATE `+table+` SET consumed_at = $2
		WHERE id = $1 AND consumed_at IS NULL AND expires_at > $2 RETURNING body`, id, now.UTC()).Scan(&b)
	consumed := false
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.pool.QueryRow(ctx, `SELECT body FROM `+table+` WHERE id = $1 AND expires_at > $2`, id, now.UTC()).Scan(&b)
		consumed = err == nil
	}
	if err != nil {
		return fmt.Errorf("consume %s: %w", table, mapErr(err))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", table, err)
	}
	store.NormalizeTimes(v)
	if consumed {
		return fmt.Errorf("consume %s: %w", table, store.ErrConsumed)
	}
	return nil
}

// ---- authorisation sessions ----

type authzSessionStore struct{ db *Store }

func (s authzSessionStore) Create(ctx context.Context, a *store.AuthzSession) error {
	return insertBody(ctx, s.db, "authz_sessions", a.ID, a, authzSessionCols)
}

func (s authzSessionStore) Get(ctx context.Context, id string, now time.Time) (*store.AuthzSession, error) {
	var a store.AuthzSession
	if err := getBody(ctx, s.db.pool, "authz_sessions", id, now, false, &a); err != nil {
		return nil, fmt.Errorf("get authz session: %w", err)
	}
	return &a, nil
}

func (s authzSessionStore) Update(ctx context.Context, id string, now time.Time, fn func(*store.AuthzSession) error) (*store.AuthzSession, error) {
	return updateBody(ctx, s.db, "authz_sessions", id, now, func(a *store.AuthzSession) error {
		if err := fn(a); err != nil {
			return err
		}
		a.ID = id
		return nil
	}, authzSessionCols)
}

func (s authzSessionStore) Delete(ctx context.Context, id string) error {
	return deleteRow(ctx, s.db, "authz_sessions", id)
}

// ---- subject sessions ----

type subjectSessionStore struct{ db *Store }

func (s subjectSessionStore) Create(ctx context.Context, ss *store.SubjectSession) error {
	return insertBody(ctx, s.db, "subject_sessions", ss.ID, ss, subjectSessionCols)
}

func (s subjectSessionStore) Get(ctx context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	var ss store.SubjectSession
	if err := getBody(ctx, s.db.pool, "subject_sessions", id, now, false, &ss); err != nil {
		return nil, fmt.Errorf("get subject session: %w", err)
	}
	return &ss, nil
}

func (s subjectSessionStore) Update(ctx context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	return updateBody(ctx, s.db, "subject_sessions", id, now, func(ss *store.SubjectSession) error {
		if err := fn(ss); err != nil {
			return err
		}
		ss.ID = id
		return nil
	}, subjectSessionCols)
}

func decodeSubjectSession(row pgx.Row) (*store.SubjectSession, error) {
	var b []byte
	if err := row.Scan(&b); err != nil {
		return nil, err
	}
	var ss store.SubjectSession
	if err := json.Unmarshal(b, &ss); err != nil {
		return nil, fmt.Errorf("decode subject session: %w", err)
	}
	store.NormalizeTimes(&ss)
	return &ss, nil
}

// Delete is one DELETE … RETURNING: of concurrent callers, the one whose
// statement removes the row gets it; the others find no row.
func (s subjectSessionStore) Delete(ctx context.Context, id string) (*store.SubjectSession, error) {
	if !storable(id) {
		return nil, fmt.Errorf("delete subject session: %w", errNotStorable)
	}
	ss, err := decodeSubjectSession(s.db.pool.QueryRow(ctx, `DELETE FROM subject_sessions WHERE id = $1 RETURNING body`, id))
	if err != nil {
		return nil, fmt.Errorf("delete subject session: %w", mapErr(err))
	}
	return ss, nil
}

// TakeExpired deletes up to limit expired sessions, earliest expiry first,
// and returns them. SKIP LOCKED lets nodes purging at the same time take
// disjoint batches instead of waiting on each other; a row is returned by
// the one DELETE that removed it.
func (s subjectSessionStore) TakeExpired(ctx context.Context, now time.Time, limit int) ([]*store.SubjectSession, error) {
	rows, err := s.db.pool.Query(ctx, `DELETE FROM subject_sessions WHERE id IN
		(SELECT id FROM subject_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING body`, now.UTC(), max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("take expired subject sessions: %w", err)
	}
	out, err := collect(rows, decodeSubjectSession)
	if err != nil {
		return nil, fmt.Errorf("take expired subject sessions: %w", err)
	}
	return out, nil
}

func (s subjectSessionStore) ListBySubject(ctx context.Context, subject string, now time.Time) ([]*store.SubjectSession, error) {
	if !storable(subject) {
		return nil, nil
	}
	rows, err := s.db.pool.Query(ctx, `SELECT body FROM subject_sessions WHERE subject = $1 AND `+liveClause+
		` ORDER BY created_at, id`, subject, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	out, err := collect(rows, decodeSubjectSession)
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	return out, nil
}

// ---- codes and pushed requests ----

type codeStore struct{ db *Store }

func (s codeStore) Create(ctx context.Context, c *store.Code) error {
	return insertBody(ctx, s.db, "codes", c.ID, c, codeCols)
}

func (s codeStore) Consume(ctx context.Context, id string, now time.Time) (*store.Code, error) {
	var c store.Code
	err := consumeBody(ctx, s.db, "codes", id, now, &c)
	if err != nil && !errors.Is(err, store.ErrConsumed) {
		return nil, err
	}
	return &c, err
}

type parStore struct{ db *Store }

func (s parStore) Create(ctx context.Context, r *store.PushedRequest) error {
	return insertBody(ctx, s.db, "pushed_requests", r.ID, r, parCols)
}

func (s parStore) Consume(ctx context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	var r store.PushedRequest
	err := consumeBody(ctx, s.db, "pushed_requests", id, now, &r)
	if err != nil && !errors.Is(err, store.ErrConsumed) {
		return nil, err
	}
	return &r, err
}

// DeleteByClient reads the client ID from the body: pushed requests live
// for a minute or so, so the table stays small enough to scan on the rare
// client deletion.
func (s parStore) DeleteByClient(ctx context.Context, clientID string) (int, error) {
	if !storable(clientID) {
		return 0, nil
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM pushed_requests WHERE body->>'client_id' = $1`, clientID)
	if err != nil {
		return 0, fmt.Errorf("delete pushed requests of client: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ---- replay cache ----

type replayCache struct{ db *Store }

// MarkUsed inserts the key (already hashed by the caller, as
// store.ReplayCache says), or takes over a row that has expired at now, in
// one statement; a live row makes the upsert's WHERE false, so nothing is
// returned and the key was already used.
func (c replayCache) MarkUsed(ctx context.Context, key string, until, now time.Time) (bool, error) {
	var k string
	err := c.db.pool.QueryRow(ctx, `INSERT INTO replay_cache (key, expires_at) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE replay_cache.expires_at <= $3
		RETURNING key`, key, until.UTC(), now.UTC()).Scan(&k)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("mark used: %w", err)
	}
	return false, nil
}

// ---- purge ----

type ephemeralPurger struct{ db *Store }

// Purge removes expired ephemeral rows, at most limit per table. Expired
// subject sessions are left to SubjectSessionStore.TakeExpired, whose
// caller notifies their clients.
func (p ephemeralPurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, t := range []struct{ table, key string }{
		{"authz_sessions", "id"},
		{"codes", "id"},
		{"pushed_requests", "id"},
		{"replay_cache", "key"},
	} {
		n, err := p.db.purgeBatch(ctx, t.table, t.key, "expires_at <= $1", now, limit)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
