package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// updateBody is the atomic read-modify-write of a JSON-body record: read
// the live row inside a write transaction, let fn change it, write it back
// with the columns cols derives from it, and return the stored form.
func updateBody[T any](ctx context.Context, db *Store, table, id string, now time.Time, fn func(*T) error,
	setID func(*T), cols func(*T) (set string, args []any)) (*T, error) {
	var out *T
	err := db.inTx(ctx, func(tx *txn) error {
		cur, err := scanBody[T](tx.QueryRowContext(ctx, `SELECT body FROM `+table+` WHERE id = ? AND `+live, id, now.UnixMilli()))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("update %s: %w", table, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("update %s: %w", table, err)
		}
		if err := fn(cur); err != nil {
			return err
		}
		setID(cur)
		body, err := sqlstore.MarshalJSON(cur)
		if err != nil {
			return fmt.Errorf("update %s: %w", table, err)
		}
		set, args := cols(cur)
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET body = ?, `+set+` WHERE id = ?`,
			append(append([]any{body}, args...), id)...); err != nil {
			return fmt.Errorf("update %s: %w", table, err)
		}
		out = new(T)
		return sqlstore.UnmarshalJSON(body, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getBody reads the JSON body of a live row.
func getBody[T any](ctx context.Context, db *Store, table, id string, now time.Time) (*T, error) {
	v, err := scanBody[T](db.r.QueryRowContext(ctx, `SELECT body FROM `+table+` WHERE id = ? AND `+live, id, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", table, err)
	}
	return v, nil
}

// ---- authorisation sessions ----

type authzSessions struct{ db *Store }

func (s authzSessions) Create(ctx context.Context, as *store.AuthzSession) error {
	body, err := sqlstore.MarshalJSON(as)
	if err != nil {
		return fmt.Errorf("create authz session: %w", err)
	}
	return s.db.insert(ctx, "authz session", `INSERT INTO authz_sessions (id, expires_at, body) VALUES (?, ?, ?)`,
		as.ID, ms(as.ExpiresAt), body)
}

func (s authzSessions) Get(ctx context.Context, id string, now time.Time) (*store.AuthzSession, error) {
	return getBody[store.AuthzSession](ctx, s.db, "authz_sessions", id, now)
}

func (s authzSessions) Update(ctx context.Context, id string, now time.Time, fn func(*store.AuthzSession) error) (*store.AuthzSession, error) {
	return updateBody(ctx, s.db, "authz_sessions", id, now, fn,
		func(as *store.AuthzSession) { as.ID = id },
		func(as *store.AuthzSession) (string, []any) { return `expires_at = ?`, []any{ms(as.ExpiresAt)} })
}

func (s authzSessions) Delete(ctx context.Context, id string) error {
	return s.db.execOne(ctx, "delete authz session", `DELETE FROM authz_sessions WHERE id = ?`, id)
}

// ---- subject sessions ----

type subjectSessions struct{ db *Store }

func (s subjectSessions) Create(ctx context.Context, ss *store.SubjectSession) error {
	body, err := sqlstore.MarshalJSON(ss)
	if err != nil {
		return fmt.Errorf("create subject session: %w", err)
	}
	return s.db.insert(ctx, "subject session", `INSERT INTO subject_sessions (id, subject, created_at, expires_at, body) VALUES (?, ?, ?, ?, ?)`,
		ss.ID, ss.Subject, ms(ss.CreatedAt), ms(ss.ExpiresAt), body)
}

func (s subjectSessions) Get(ctx context.Context, id string, now time.Time) (*store.SubjectSession, error) {
	return getBody[store.SubjectSession](ctx, s.db, "subject_sessions", id, now)
}

func (s subjectSessions) Update(ctx context.Context, id string, now time.Time, fn func(*store.SubjectSession) error) (*store.SubjectSession, error) {
	return updateBody(ctx, s.db, "subject_sessions", id, now, fn,
		func(ss *store.SubjectSession) { ss.ID = id },
		func(ss *store.SubjectSession) (string, []any) {
			return `subject = ?, created_at = ?, expires_at = ?`, []any{ss.Subject, ms(ss.CreatedAt), ms(ss.ExpiresAt)}
		})
}

// Delete is one DELETE … RETURNING: the single writer connection makes
// exactly one of concurrent callers see the row.
func (s subjectSessions) Delete(ctx context.Context, id string) (*store.SubjectSession, error) {
	ss, err := scanBody[store.SubjectSession](s.db.w.QueryRowContext(ctx, `DELETE FROM subject_sessions WHERE id = ? RETURNING body`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("delete subject session: %w", err)
	}
	return ss, nil
}

// TakeExpired deletes up to limit expired sessions, earliest expiry first,
// in one statement (index subject_sessions_expires) and returns them.
func (s subjectSessions) TakeExpired(ctx context.Context, now time.Time, limit int) ([]*store.SubjectSession, error) {
	rows, err := s.db.w.QueryContext(ctx, `DELETE FROM subject_sessions WHERE id IN
		(SELECT id FROM subject_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING body`,
		now.UnixMilli(), max(limit, 0))
	if err != nil {
		return nil, fmt.Errorf("take expired subject sessions: %w", err)
	}
	return collect(rows, "take expired subject sessions", scanBody[store.SubjectSession])
}

func (s subjectSessions) ListBySubject(ctx context.Context, subject string, now time.Time) ([]*store.SubjectSession, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT body FROM subject_sessions WHERE subject = ? AND `+live+
		` ORDER BY created_at, id`, subject, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	return collect(rows, "list subject sessions", scanBody[store.SubjectSession])
}

// ---- single-use records ----

// consume marks a live row consumed in one statement and returns its body;
// the statement reports whether this call was the first.
func consume[T any](ctx context.Context, db *Store, table, id string, now time.Time) (*T, error) {
	var consumed int
	var body string
	err := db.w.QueryRowContext(ctx, `UPDATE `+table+` SET consumed = CASE consumed WHEN 0 THEN 1 ELSE 2 END
		WHERE id = ? AND `+live+` RETURNING consumed, body`, id, now.UnixMilli()).Scan(&consumed, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("consume %s: %w", table, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", table, err)
	}
	v := new(T)
	if err := sqlstore.UnmarshalJSON(body, v); err != nil {
		return nil, fmt.Errorf("consume %s: %w", table, err)
	}
	if consumed != 1 {
		return v, fmt.Errorf("consume %s: %w", table, store.ErrConsumed)
	}
	return v, nil
}

type codes struct{ db *Store }

func (s codes) Create(ctx context.Context, c *store.Code) error {
	body, err := sqlstore.MarshalJSON(c)
	if err != nil {
		return fmt.Errorf("create code: %w", err)
	}
	return s.db.insert(ctx, "code", `INSERT INTO codes (id, expires_at, body) VALUES (?, ?, ?)`, c.ID, ms(c.ExpiresAt), body)
}

func (s codes) Consume(ctx context.Context, id string, now time.Time) (*store.Code, error) {
	return consume[store.Code](ctx, s.db, "codes", id, now)
}

type pars struct{ db *Store }

func (s pars) Create(ctx context.Context, r *store.PushedRequest) error {
	body, err := sqlstore.MarshalJSON(r)
	if err != nil {
		return fmt.Errorf("create pushed request: %w", err)
	}
	return s.db.insert(ctx, "pushed request", `INSERT INTO pushed_requests (id, expires_at, body) VALUES (?, ?, ?)`, r.ID, ms(r.ExpiresAt), body)
}

func (s pars) Consume(ctx context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	return consume[store.PushedRequest](ctx, s.db, "pushed_requests", id, now)
}

// DeleteByClient reads the client ID from the body: pushed requests live
// for a minute or so, so the table stays small enough to scan on the rare
// client deletion.
func (s pars) DeleteByClient(ctx context.Context, clientID string) (int, error) {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM pushed_requests WHERE json_extract(body, '$.client_id') = ?`, clientID)
	if err != nil {
		return 0, fmt.Errorf("delete pushed requests of client: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete pushed requests of client: %w", err)
	}
	return int(n), nil
}

// ---- replay cache ----

type replay struct{ db *Store }

// MarkUsed is one upsert: it inserts the key, or takes over a row that has
// expired at now, and returns a row only when it did either; no row means
// the key was live.
func (s replay) MarkUsed(ctx context.Context, key string, until, now time.Time) (bool, error) {
	var one int
	err := s.db.w.QueryRowContext(ctx, `INSERT INTO replay_cache (key, expires_at) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= ?
		RETURNING 1`, key, until.UnixMilli(), now.UnixMilli()).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("mark used: %w", err)
	}
	return false, nil
}

// ---- purge ----

type ephemeralPurger struct{ db *Store }

// Purge removes expired authorisation sessions, codes, pushed requests and
// replay keys, at most limit of each. Expired subject sessions are left to
// SubjectSessionStore.TakeExpired, whose caller notifies their clients.
func (p ephemeralPurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, t := range []struct{ table, column string }{
		{"authz_sessions", "expires_at"},
		{"codes", "expires_at"},
		{"pushed_requests", "expires_at"},
		{"replay_cache", "expires_at"},
	} {
		n, err := p.db.purgeBatch(ctx, t.table, t.column, now.UnixMilli(), limit)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
