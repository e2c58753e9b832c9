package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// ms is the column value of a time; see sqlstore.Millis.
func ms(t time.Time) sql.NullInt64 { return sqlstore.Millis(t) }

// live is the predicate of rows not expired at now (bound as the next
// argument).
const live = `(expires_at IS NULL OR expires_at > ?)`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// ---- clients ----

type clients struct{ db *Store }

const clientColumns = `id, secret_hash, secret_sealed, secret_expires_at, registration_token_hash, metadata, created_at, updated_at`

func scanClient(r rowScanner) (*store.Client, error) {
	var c store.Client
	var meta string
	var exp, created, updated sql.NullInt64
	if err := r.Scan(&c.ID, &c.SecretHash, &c.SecretSealed, &exp, &c.RegistrationTokenHash, &meta, &created, &updated); err != nil {
		return nil, err
	}
	if err := sqlstore.UnmarshalJSON(meta, &c.Metadata); err != nil {
		return nil, err
	}
	c.SecretExpiresAt, c.CreatedAt, c.UpdatedAt = sqlstore.Time(exp), sqlstore.Time(created), sqlstore.Time(updated)
	return &c, nil
}

func (s clients) Create(ctx context.Context, c *store.Client) error {
	meta, err := sqlstore.MarshalJSON(c.Metadata)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return s.db.insert(ctx, "client", `INSERT INTO clients (`+clientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.SecretHash, c.SecretSealed, ms(c.SecretExpiresAt), c.RegistrationTokenHash, meta, ms(c.CreatedAt), ms(c.UpdatedAt))
}

func (s clients) Get(ctx context.Context, id string) (*store.Client, error) {
	c, err := scanClient(s.db.r.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

func (s clients) Update(ctx context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	var out *store.Client
	err := s.db.inTx(ctx, func(tx *txn) error {
		c, err := scanClient(tx.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("update client %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("update client %q: %w", id, err)
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID = id
		meta, err := sqlstore.MarshalJSON(c.Metadata)
		if err != nil {
			return fmt.Errorf("update client %q: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE clients SET secret_hash = ?, secret_sealed = ?, secret_expires_at = ?,
			registration_token_hash = ?, metadata = ?, created_at = ?, updated_at = ? WHERE id = ?`,
			c.SecretHash, c.SecretSealed, ms(c.SecretExpiresAt), c.RegistrationTokenHash, meta, ms(c.CreatedAt), ms(c.UpdatedAt), id); err != nil {
			return fmt.Errorf("update client %q: %w", id, err)
		}
		// Return what a Get would: decoded JSON, millisecond times.
		var m store.ClientMetadata
		if err := sqlstore.UnmarshalJSON(meta, &m); err != nil {
			return fmt.Errorf("update client %q: %w", id, err)
		}
		c.Metadata = m
		c.SecretExpiresAt = sqlstore.Time(ms(c.SecretExpiresAt))
		c.CreatedAt, c.UpdatedAt = sqlstore.Time(ms(c.CreatedAt)), sqlstore.Time(ms(c.UpdatedAt))
		out = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the client, its grants (their tokens cascade) and its
// authorisations in one write transaction.
func (s clients) Delete(ctx context.Context, id string) error {
	err := s.db.inTx(ctx, func(tx *txn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM grants WHERE client_id = ?`, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM authorizations WHERE client_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

func (s clients) List(ctx context.Context, after string, limit int) ([]*store.Client, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return collect(rows, "list clients", scanClient)
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, what string, scan func(rowScanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// scanBody decodes a row holding one JSON body column.
func scanBody[T any](r rowScanner) (*T, error) {
	var body string
	if err := r.Scan(&body); err != nil {
		return nil, err
	}
	v := new(T)
	if err := sqlstore.UnmarshalJSON(body, v); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- grants ----

type grants struct{ db *Store }

func (s grants) Create(ctx context.Context, g *store.Grant) error {
	body, err := sqlstore.MarshalJSON(g)
	if err != nil {
		return fmt.Errorf("create grant: %w", err)
	}
	return s.db.insert(ctx, "grant", `INSERT INTO grants (id, subject, client_id, created_at, expires_at, body) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.Subject, g.ClientID, ms(g.CreatedAt), ms(g.ExpiresAt), body)
}

func (s grants) Get(ctx context.Context, id string, now time.Time) (*store.Grant, error) {
	g, err := scanBody[store.Grant](s.db.r.QueryRowContext(ctx, `SELECT body FROM grants WHERE id = ? AND `+live, id, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get grant %q: %w", id, err)
	}
	return g, nil
}

// Delete removes the grant; its tokens go by ON DELETE CASCADE.
func (s grants) Delete(ctx context.Context, id string) error {
	return s.db.execOne(ctx, fmt.Sprintf("delete grant %q", id), `DELETE FROM grants WHERE id = ?`, id)
}

// filterWhere renders a grant filter as a WHERE fragment and its arguments;
// it refuses the empty filter, which would select every grant.
func filterWhere(f store.GrantFilter) (string, []any, error) {
	var conds []string
	var args []any
	if f.Subject != "" {
		conds, args = append(conds, `subject = ?`), append(args, f.Subject)
	}
	if f.ClientID != "" {
		conds, args = append(conds, `client_id = ?`), append(args, f.ClientID)
	}
	if len(conds) == 0 {
		return "", nil, errors.New("grant filter selects nothing: set subject or client ID")
	}
	return strings.Join(conds, ` AND `), args, nil
}

func (s grants) DeleteMatching(ctx context.Context, f store.GrantFilter) (int, error) {
	where, args, err := filterWhere(f)
	if err != nil {
		return 0, fmt.Errorf("delete grants: %w", err)
	}
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM grants WHERE `+where, args...)
	if err != nil {
		return 0, fmt.Errorf("delete grants: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete grants: %w", err)
	}
	return int(n), nil
}

func (s grants) List(ctx context.Context, f store.GrantFilter, now time.Time) ([]*store.Grant, error) {
	where, args, err := filterWhere(f)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT body FROM grants WHERE `+where+` AND `+live+
		` ORDER BY created_at DESC, id`, append(args, now.UnixMilli())...)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return collect(rows, "list grants", scanBody[store.Grant])
}

// ---- long-lived authorisations ----

type authorizations struct{ db *Store }

func (s authorizations) Put(ctx context.Context, a *store.Authorization) error {
	body, err := sqlstore.MarshalJSON(a)
	if err != nil {
		return fmt.Errorf("put authorization: %w", err)
	}
	if _, err := s.db.w.ExecContext(ctx, `INSERT INTO authorizations (subject, client_id, body) VALUES (?, ?, ?)
		ON CONFLICT (subject, client_id) DO UPDATE SET body = excluded.body`, a.Subject, a.ClientID, body); err != nil {
		return fmt.Errorf("put authorization: %w", err)
	}
	return nil
}

func (s authorizations) Get(ctx context.Context, subject, clientID string) (*store.Authorization, error) {
	a, err := scanBody[store.Authorization](s.db.r.QueryRowContext(ctx,
		`SELECT body FROM authorizations WHERE subject = ? AND client_id = ?`, subject, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get authorization %q/%q: %w", subject, clientID, err)
	}
	return a, nil
}

func (s authorizations) Delete(ctx context.Context, subject, clientID string) error {
	return s.db.execOne(ctx, fmt.Sprintf("delete authorization %q/%q", subject, clientID),
		`DELETE FROM authorizations WHERE subject = ? AND client_id = ?`, subject, clientID)
}

func (s authorizations) List(ctx context.Context, subject, clientID string) ([]*store.Authorization, error) {
	where, args, err := filterWhere(store.GrantFilter{Subject: subject, ClientID: clientID})
	if err != nil {
		return nil, fmt.Errorf("list authorizations: %w", err)
	}
	rows, err := s.db.r.QueryContext(ctx, `SELECT body FROM authorizations WHERE `+where+` ORDER BY subject, client_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list authorizations: %w", err)
	}
	return collect(rows, "list authorizations", scanBody[store.Authorization])
}

// Subjects and Clients page with the primary key (subject, client_id) and
// the authorizations_client index respectively.
func (s authorizations) Subjects(ctx context.Context, after string, limit int) ([]string, error) {
	return s.distinct(ctx, "list subjects",
		`SELECT DISTINCT subject FROM authorizations WHERE subject > ? ORDER BY subject LIMIT ?`, after, limit)
}

func (s authorizations) Clients(ctx context.Context, after string, limit int) ([]string, error) {
	return s.distinct(ctx, "list clients",
		`SELECT DISTINCT client_id FROM authorizations WHERE client_id > ? ORDER BY client_id LIMIT ?`, after, limit)
}

func (s authorizations) distinct(ctx context.Context, what, query, after string, limit int) ([]string, error) {
	rows, err := s.db.r.QueryContext(ctx, query, after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ---- refresh tokens ----

type refreshTokens struct{ db *Store }

const refreshColumns = `id, grant_id, client_id, created_at, expires_at, last_used_at, rotated_at`

func scanRefresh(r rowScanner) (*store.RefreshToken, error) {
	var t store.RefreshToken
	var created, expires, used, rotated sql.NullInt64
	if err := r.Scan(&t.ID, &t.GrantID, &t.ClientID, &created, &expires, &used, &rotated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RotatedAt = sqlstore.Time(created), sqlstore.Time(expires), sqlstore.Time(used), sqlstore.Time(rotated)
	return &t, nil
}

// execer is the writer pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertRefresh(ctx context.Context, x execer, t *store.RefreshToken) error {
	_, err := x.ExecContext(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.GrantID, t.ClientID, ms(t.CreatedAt), ms(t.ExpiresAt), ms(t.LastUsedAt), ms(t.RotatedAt))
	switch {
	case err == nil:
		return nil
	case isDuplicate(err):
		return fmt.Errorf("create refresh token: %w", store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("create refresh token: grant %q: %w", t.GrantID, store.ErrNotFound)
	default:
		return fmt.Errorf("create refresh token: %w", err)
	}
}

func (s refreshTokens) Create(ctx context.Context, t *store.RefreshToken) error {
	return insertRefresh(ctx, s.db.w, t)
}

func (s refreshTokens) Get(ctx context.Context, id string, now time.Time) (*store.RefreshToken, error) {
	t, err := scanRefresh(s.db.r.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE id = ? AND `+live, id, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get refresh token: %w", err)
	}
	return t, nil
}

func (s refreshTokens) Touch(ctx context.Context, id string, now time.Time) error {
	return s.db.execOne(ctx, "touch refresh token", `UPDATE refresh_tokens SET last_used_at = ? WHERE id = ?`, ms(now), id)
}

// Rotate runs in one IMMEDIATE transaction, which holds the database's
// write lock: a concurrent Grants.Delete runs wholly before or after it.
func (s refreshTokens) Rotate(ctx context.Context, id string, now time.Time, next *store.RefreshToken) (*store.RefreshToken, error) {
	var out *store.RefreshToken
	var consumed bool
	err := s.db.inTx(ctx, func(tx *txn) error {
		t, err := scanRefresh(tx.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE id = ? AND `+live, id, now.UnixMilli()))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if !t.RotatedAt.IsZero() {
			out, consumed = t, true
			return nil
		}
		if err := insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = ? WHERE id = ?`, ms(now), id); err != nil {
			return err
		}
		// Older generations: only the token just rotated is needed to
		// recognise a replay.
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE grant_id = ? AND rotated_at IS NOT NULL AND id <> ?`, t.GrantID, id); err != nil {
			return err
		}
		t.RotatedAt = sqlstore.Time(ms(now))
		out = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	if consumed {
		return out, fmt.Errorf("rotate refresh token: %w", store.ErrConsumed)
	}
	return out, nil
}

// ---- access tokens ----

type accessTokens struct{ db *Store }

func (s accessTokens) Create(ctx context.Context, t *store.AccessToken) error {
	scope, err := sqlstore.MarshalJSON(t.Scope)
	if err != nil {
		return fmt.Errorf("create access token: %w", err)
	}
	_, err = s.db.w.ExecContext(ctx, `INSERT INTO access_tokens (id, grant_id, client_id, subject, scope, created_at, expires_at, cnf_jkt, cnf_x5t_s256)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.GrantID, t.ClientID, t.Subject, scope, ms(t.CreatedAt), ms(t.ExpiresAt),
		t.Confirmation.JKT, t.Confirmation.X5TS256)
	switch {
	case err == nil:
		return nil
	case isDuplicate(err):
		return fmt.Errorf("create access token: %w", store.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("create access token: grant %q: %w", t.GrantID, store.ErrNotFound)
	default:
		return fmt.Errorf("create access token: %w", err)
	}
}

func (s accessTokens) Get(ctx context.Context, id string, now time.Time) (*store.AccessToken, error) {
	var t store.AccessToken
	var scope string
	var created, expires sql.NullInt64
	err := s.db.r.QueryRowContext(ctx, `SELECT id, grant_id, client_id, subject, scope, created_at, expires_at, cnf_jkt, cnf_x5t_s256
		FROM access_tokens WHERE id = ? AND `+live, id, now.UnixMilli()).
		Scan(&t.ID, &t.GrantID, &t.ClientID, &t.Subject, &scope, &created, &expires, &t.Confirmation.JKT, &t.Confirmation.X5TS256)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = sqlstore.UnmarshalJSON(scope, &t.Scope)
	}
	if err != nil {
		return nil, fmt.Errorf("get access token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt = sqlstore.Time(created), sqlstore.Time(expires)
	return &t, nil
}

func (s accessTokens) Delete(ctx context.Context, id string) error {
	return s.db.execOne(ctx, "delete access token", `DELETE FROM access_tokens WHERE id = ?`, id)
}

// ---- signing keys ----

type keys struct{ db *Store }

const keyColumns = `id, alg, public_jwk, private_sealed, created_at, retired_at, delete_after`

func scanKey(r rowScanner) (*store.SigningKey, error) {
	var k store.SigningKey
	var created, retired, deleteAfter sql.NullInt64
	if err := r.Scan(&k.ID, &k.Alg, &k.Public, &k.PrivateSealed, &created, &retired, &deleteAfter); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt, k.DeleteAfter = sqlstore.Time(created), sqlstore.Time(retired), sqlstore.Time(deleteAfter)
	return &k, nil
}

func (s keys) List(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT `+keyColumns+` FROM signing_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return collect(rows, "list keys", scanKey)
}

func insertKeys(ctx context.Context, tx *txn, ks []*store.SigningKey) error {
	for _, k := range ks {
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Alg, k.Public, k.PrivateSealed, ms(k.CreatedAt), ms(k.RetiredAt), ms(k.DeleteAfter))
		if isDuplicate(err) {
			return fmt.Errorf("key %q: %w", k.ID, store.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", k.ID, err)
		}
	}
	return nil
}

// AddIfEmpty relies on the IMMEDIATE transaction: it holds the database's
// write lock from the emptiness check to the commit, across processes too.
func (s keys) AddIfEmpty(ctx context.Context, ks []*store.SigningKey) (bool, error) {
	added := false
	err := s.db.inTx(ctx, func(tx *txn) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM signing_keys LIMIT 1)`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if err := insertKeys(ctx, tx, ks); err != nil {
			return err
		}
		added = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("add keys: %w", err)
	}
	return added, nil
}

func (s keys) Rotate(ctx context.Context, next []*store.SigningKey, now, deleteAfter time.Time) error {
	err := s.db.inTx(ctx, func(tx *txn) error {
		seen := map[string]bool{}
		for _, k := range next {
			if seen[k.Alg] {
				continue
			}
			seen[k.Alg] = true
			if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?, delete_after = ?
				WHERE alg = ? AND retired_at IS NULL`, ms(now), ms(deleteAfter), k.Alg); err != nil {
				return err
			}
		}
		return insertKeys(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	return nil
}

func (s keys) DeleteRetired(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND delete_after < ?`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("delete retired keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete retired keys: %w", err)
	}
	return int(n), nil
}

// ---- purge ----

type durablePurger struct{ db *Store }

// Purge removes expired access tokens, refresh tokens, grants (whose
// remaining tokens cascade) and revocation journal entries, at most limit
// of each, one short write transaction per batch.
func (p durablePurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, table := range []string{"access_tokens", "refresh_tokens", "grants", "revocations"} {
		n, err := p.db.purgeBatch(ctx, table, "expires_at", now.UnixMilli(), limit)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ---- revocation journal ----

type revocations struct{ db *Store }

func (s revocations) Add(ctx context.Context, r *store.Revocation) error {
	return s.db.insert(ctx, "revocation", `INSERT INTO revocations (id, kind, subject, client_id, actor, token_id, revoked_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, string(r.Kind), r.Subject, r.ClientID, r.Actor, r.TokenID, r.RevokedAt.UnixMilli(), r.ExpiresAt.UnixMilli())
}

func (s revocations) ListLive(ctx context.Context, now time.Time) ([]*store.Revocation, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT id, kind, subject, client_id, actor, token_id, revoked_at, expires_at
		FROM revocations WHERE expires_at > ? ORDER BY revoked_at, id`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return collect(rows, "list revocations", func(r rowScanner) (*store.Revocation, error) {
		var v store.Revocation
		var kind string
		var revoked, expires int64
		if err := r.Scan(&v.ID, &kind, &v.Subject, &v.ClientID, &v.Actor, &v.TokenID, &revoked, &expires); err != nil {
			return nil, err
		}
		v.Kind = store.RevocationKind(kind)
		v.RevokedAt, v.ExpiresAt = time.UnixMilli(revoked).UTC(), time.UnixMilli(expires).UTC()
		return &v, nil
	})
}
