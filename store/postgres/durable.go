package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/store"
)

// ---- clients ----

type clientStore struct{ db *Store }

const clientCols = `id, secret_hash, secret_sealed, secret_expires_at, registration_token_hash, metadata, created_at, updated_at`

func scanClient(row pgx.Row) (*store.Client, error) {
	var (
		c                store.Client
		secretExp        *time.Time
		meta             []byte
		created, updated time.Time
	)
	if err := row.Scan(&c.ID, &c.SecretHash, &c.SecretSealed, &secretExp, &c.RegistrationTokenHash, &meta, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(meta, &c.Metadata); err != nil {
		return nil, fmt.Errorf("decode client metadata: %w", err)
	}
	c.SecretExpiresAt = fromTS(secretExp)
	c.CreatedAt, c.UpdatedAt = created.UTC(), updated.UTC()
	return &c, nil
}

func clientArgs(c *store.Client) ([]any, error) {
	meta, err := json.Marshal(c.Metadata)
	if err != nil {
		return nil, fmt.Errorf("encode client metadata: %w", err)
	}
	return []any{c.ID, bytesOrNil(c.SecretHash), bytesOrNil(c.SecretSealed), tsOrNil(c.SecretExpiresAt),
		bytesOrNil(c.RegistrationTokenHash), meta, c.CreatedAt.UTC(), c.UpdatedAt.UTC()}, nil
}

func (s clientStore) Create(ctx context.Context, c *store.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return err
	}
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, args...); err != nil {
		return fmt.Errorf("create client %q: %w", c.ID, mapErr(err))
	}
	return nil
}

func (s clientStore) Get(ctx context.Context, id string) (*store.Client, error) {
	if !storable(id) {
		return nil, fmt.Errorf("get client: %w", errNotStorable)
	}
	c, err := scanClient(s.db.pool.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get client %q: %w", id, mapErr(err))
	}
	return c, nil
}

func (s clientStore) Update(ctx context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	if !storable(id) {
		return nil, fmt.Errorf("update client: %w", errNotStorable)
	}
	var out *store.Client
	var fnErr error
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		c, err := scanClient(tx.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(err)
		}
		if err := fn(c); err != nil {
			fnErr = err
			return err
		}
		c.ID = id // the key is not the updater's to change
		args, err := clientArgs(c)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE clients SET secret_hash=$2, secret_sealed=$3, secret_expires_at=$4,
			registration_token_hash=$5, metadata=$6, created_at=$7, updated_at=$8 WHERE id=$1`, args...); err != nil {
			return mapErr(err)
		}
		out = c
		return nil
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("update client %q: %w", id, err)
	}
	// Read back so the caller sees exactly what is stored (time precision).
	return s.Get(ctx, out.ID)
}

func (s clientStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("delete client: %w", errNotStorable)
	}
	// Grants before their tokens (cascade), the order every path here
	// takes; then the authorisations and the client itself.
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM grants WHERE client_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM authorizations WHERE client_id = $1`, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound // rolls the other deletions back
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete client %q: %w", id, err)
	}
	return nil
}

func (s clientStore) List(ctx context.Context, after string, limit int) ([]*store.Client, error) {
	if !storable(after) {
		return nil, fmt.Errorf("list clients: %w", errNotStorable)
	}
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+clientCols+` FROM clients WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	out, err := collect(rows, scanClient)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return out, nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ---- long-lived authorisations ----

type authorizationStore struct{ db *Store }

const authorizationCols = `subject, client_id, consented, tokens, created_at, updated_at`

func scanAuthorization(row pgx.Row) (*store.Authorization, error) {
	var (
		a                store.Authorization
		consented, toks  []byte
		created, updated time.Time
	)
	if err := row.Scan(&a.Subject, &a.ClientID, &consented, &toks, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(consented, &a.Consented); err != nil {
		return nil, fmt.Errorf("decode consent: %w", err)
	}
	if err := json.Unmarshal(toks, &a.Tokens); err != nil {
		return nil, fmt.Errorf("decode token spec: %w", err)
	}
	a.CreatedAt, a.UpdatedAt = created.UTC(), updated.UTC()
	return &a, nil
}

func (s authorizationStore) Put(ctx context.Context, a *store.Authorization) error {
	consented, err := json.Marshal(a.Consented)
	if err != nil {
		return fmt.Errorf("encode consent: %w", err)
	}
	toks, err := json.Marshal(a.Tokens)
	if err != nil {
		return fmt.Errorf("encode token spec: %w", err)
	}
	_, err = s.db.pool.Exec(ctx, `INSERT INTO authorizations (`+authorizationCols+`) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (subject, client_id) DO UPDATE SET consented = EXCLUDED.consented, tokens = EXCLUDED.tokens,
		created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
		a.Subject, a.ClientID, consented, toks, a.CreatedAt.UTC(), a.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("put authorisation %q/%q: %w", a.Subject, a.ClientID, mapErr(err))
	}
	return nil
}

func (s authorizationStore) Get(ctx context.Context, subject, clientID string) (*store.Authorization, error) {
	if !storable(subject, clientID) {
		return nil, fmt.Errorf("get authorisation: %w", errNotStorable)
	}
	a, err := scanAuthorization(s.db.pool.QueryRow(ctx, `SELECT `+authorizationCols+` FROM authorizations WHERE subject = $1 AND client_id = $2`, subject, clientID))
	if err != nil {
		return nil, fmt.Errorf("get authorisation %q/%q: %w", subject, clientID, mapErr(err))
	}
	return a, nil
}

func (s authorizationStore) Delete(ctx context.Context, subject, clientID string) error {
	if !storable(subject, clientID) {
		return fmt.Errorf("delete authorisation: %w", errNotStorable)
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM authorizations WHERE subject = $1 AND client_id = $2`, subject, clientID)
	if err != nil {
		return fmt.Errorf("delete authorisation %q/%q: %w", subject, clientID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete authorisation %q/%q: %w", subject, clientID, store.ErrNotFound)
	}
	return nil
}

func (s authorizationStore) List(ctx context.Context, subject, clientID string) ([]*store.Authorization, error) {
	if !storable(subject, clientID) {
		return nil, nil
	}
	var (
		rows pgx.Rows
		err  error
	)
	q := `SELECT ` + authorizationCols + ` FROM authorizations `
	switch {
	case subject != "" && clientID != "":
		rows, err = s.db.pool.Query(ctx, q+`WHERE subject = $1 AND client_id = $2`, subject, clientID)
	case subject != "":
		rows, err = s.db.pool.Query(ctx, q+`WHERE subject = $1 ORDER BY client_id`, subject)
	case clientID != "":
		rows, err = s.db.pool.Query(ctx, q+`WHERE client_id = $1 ORDER BY subject`, clientID)
	default:
		return nil, errors.New("list authorisations: subject or client ID required")
	}
	if err != nil {
		return nil, fmt.Errorf("list authorisations: %w", err)
	}
	out, err := collect(rows, scanAuthorization)
	if err != nil {
		return nil, fmt.Errorf("list authorisations: %w", err)
	}
	return out, nil
}

// Subjects and Clients page with the primary key (subject, client_id) and
// the authorizations_client index respectively.
func (s authorizationStore) Subjects(ctx context.Context, after string, limit int) ([]string, error) {
	return s.distinct(ctx, "list subjects",
		`SELECT DISTINCT subject FROM authorizations WHERE subject > $1 ORDER BY subject LIMIT $2`, after, limit)
}

func (s authorizationStore) Clients(ctx context.Context, after string, limit int) ([]string, error) {
	return s.distinct(ctx, "list clients",
		`SELECT DISTINCT client_id FROM authorizations WHERE client_id > $1 ORDER BY client_id LIMIT $2`, after, limit)
}

func (s authorizationStore) distinct(ctx context.Context, what, query, after string, limit int) ([]string, error) {
	if !storable(after) {
		return nil, fmt.Errorf("%s: %w", what, errNotStorable)
	}
	rows, err := s.db.pool.Query(ctx, query, after, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ---- grants ----

type grantStore struct{ db *Store }

const grantCols = `id, subject, client_id, consented, tokens, long_lived, subject_session_id, auth_time, acr, amr, created_at, expires_at, cnf_jkt, cnf_x5t_s256`

func scanGrant(row pgx.Row) (*store.Grant, error) {
	var (
		g                 store.Grant
		consented, toks   []byte
		authTime, expires *time.Time
		created           time.Time
	)
	if err := row.Scan(&g.ID, &g.Subject, &g.ClientID, &consented, &toks, &g.LongLived, &g.SubjectSessionID,
		&authTime, &g.ACR, &g.AMR, &created, &expires, &g.Confirmation.JKT, &g.Confirmation.X5TS256); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(consented, &g.Consented); err != nil {
		return nil, fmt.Errorf("decode consent: %w", err)
	}
	if err := json.Unmarshal(toks, &g.Tokens); err != nil {
		return nil, fmt.Errorf("decode token spec: %w", err)
	}
	g.AuthTime, g.ExpiresAt, g.CreatedAt = fromTS(authTime), fromTS(expires), created.UTC()
	return &g, nil
}

// grantWhere turns a filter into a WHERE clause over $1 (subject) and $2
// (client ID); an empty filter is refused so that a bug cannot select
// every grant.
func grantWhere(f store.GrantFilter) (string, error) {
	switch {
	case f.Subject != "" && f.ClientID != "":
		return `subject = $1 AND client_id = $2`, nil
	case f.Subject != "":
		return `subject = $1 AND $2 = ''`, nil
	case f.ClientID != "":
		return `client_id = $2 AND $1 = ''`, nil
	}
	return "", errors.New("grant filter: subject or client ID required")
}

func (s grantStore) Create(ctx context.Context, g *store.Grant) error {
	consented, err := json.Marshal(g.Consented)
	if err != nil {
		return fmt.Errorf("encode consent: %w", err)
	}
	toks, err := json.Marshal(g.Tokens)
	if err != nil {
		return fmt.Errorf("encode token spec: %w", err)
	}
	_, err = s.db.pool.Exec(ctx, `INSERT INTO grants (`+grantCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		g.ID, g.Subject, g.ClientID, consented, toks, g.LongLived, g.SubjectSessionID, tsOrNil(g.AuthTime),
		g.ACR, strsOrNil(g.AMR), g.CreatedAt.UTC(), tsOrNil(g.ExpiresAt), g.Confirmation.JKT, g.Confirmation.X5TS256)
	if err != nil {
		return fmt.Errorf("create grant %q: %w", g.ID, mapErr(err))
	}
	return nil
}

func (s grantStore) Get(ctx context.Context, id string, now time.Time) (*store.Grant, error) {
	if !storable(id) {
		return nil, fmt.Errorf("get grant: %w", errNotStorable)
	}
	g, err := scanGrant(s.db.pool.QueryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)`, id, now.UTC()))
	if err != nil {
		return nil, fmt.Errorf("get grant %q: %w", id, mapErr(err))
	}
	return g, nil
}

func (s grantStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("delete grant: %w", errNotStorable)
	}
	// Tokens go with it: ON DELETE CASCADE. A revocation must not be lost
	// to a transient conflict, so it is retried.
	var tag pgconn.CommandTag
	err := s.db.retry(ctx, func() (err error) {
		tag, err = s.db.pool.Exec(ctx, `DELETE FROM grants WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete grant %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete grant %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func (s grantStore) DeleteMatching(ctx context.Context, f store.GrantFilter) (int, error) {
	if !storable(f.Subject, f.ClientID) {
		return 0, nil
	}
	where, err := grantWhere(f)
	if err != nil {
		return 0, err
	}
	var tag pgconn.CommandTag
	err = s.db.retry(ctx, func() (err error) {
		tag, err = s.db.pool.Exec(ctx, `DELETE FROM grants WHERE `+where, f.Subject, f.ClientID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete grants: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (s grantStore) List(ctx context.Context, f store.GrantFilter, now time.Time) ([]*store.Grant, error) {
	if !storable(f.Subject, f.ClientID) {
		return nil, nil
	}
	where, err := grantWhere(f)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+grantCols+` FROM grants WHERE `+where+
		` AND (expires_at IS NULL OR expires_at > $3) ORDER BY created_at DESC, id DESC`, f.Subject, f.ClientID, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	out, err := collect(rows, scanGrant)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	return out, nil
}

// ---- refresh tokens ----

type refreshTokenStore struct{ db *Store }

const refreshCols = `id, grant_id, client_id, created_at, expires_at, last_used_at, rotated_at`

func scanRefresh(row pgx.Row) (*store.RefreshToken, error) {
	var (
		t                        store.RefreshToken
		created                  time.Time
		expires, used, rotatedAt *time.Time
	)
	if err := row.Scan(&t.ID, &t.GrantID, &t.ClientID, &created, &expires, &used, &rotatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RotatedAt = created.UTC(), fromTS(expires), fromTS(used), fromTS(rotatedAt)
	return &t, nil
}

// execer is what a pool and a transaction have in common.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertRefresh(ctx context.Context, q execer, t *store.RefreshToken) error {
	_, err := q.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		t.ID, t.GrantID, t.ClientID, t.CreatedAt.UTC(), tsOrNil(t.ExpiresAt), tsOrNil(t.LastUsedAt), tsOrNil(t.RotatedAt))
	if err != nil {
		return fmt.Errorf("create refresh token: %w", mapErr(err))
	}
	return nil
}

func (s refreshTokenStore) Create(ctx context.Context, t *store.RefreshToken) error {
	return insertRefresh(ctx, s.db.pool, t)
}

func (s refreshTokenStore) Get(ctx context.Context, id string, now time.Time) (*store.RefreshToken, error) {
	if !storable(id) {
		return nil, fmt.Errorf("get refresh token: %w", errNotStorable)
	}
	t, err := scanRefresh(s.db.pool.QueryRow(ctx, `SELECT `+refreshCols+` FROM refresh_tokens
		WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)`, id, now.UTC()))
	if err != nil {
		// The ID is a token hash: safe to log, but it adds nothing; omit it.
		return nil, fmt.Errorf("get refresh token: %w", mapErr(err))
	}
	return t, nil
}

func (s refreshTokenStore) Touch(ctx context.Context, id string, now time.Time) error {
	if !storable(id) {
		return fmt.Errorf("touch refresh token: %w", errNotStorable)
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE refresh_tokens SET last_used_at = $2 WHERE id = $1`, id, now.UTC())
	if err != nil {
		return fmt.Errorf("touch refresh token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("touch refresh token: %w", store.ErrNotFound)
	}
	return nil
}

// Rotate locks the token's grant before it touches any token row, the
// order Grants.Delete takes too (grant row, then its tokens by cascade);
// the opposite order deadlocked with a concurrent revocation and could
// lose it. FOR NO KEY UPDATE also serialises the rotations of one grant,
// so the clean-up of older generations never races another rotation,
// while token inserts (which take KEY SHARE on the grant) go on. The
// conditional UPDATE makes exactly one of concurrent rotations win.
func (s refreshTokenStore) Rotate(ctx context.Context, id string, now time.Time, next *store.RefreshToken) (*store.RefreshToken, error) {
	if !storable(id) {
		return nil, fmt.Errorf("rotate refresh token: %w", errNotStorable)
	}
	var consumed *store.RefreshToken
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		consumed = nil
		var grantID string
		// A grant deleted while we waited for its lock yields no row.
		if err := tx.QueryRow(ctx, `SELECT g.id FROM grants g JOIN refresh_tokens t ON t.grant_id = g.id
			WHERE t.id = $1 FOR NO KEY UPDATE OF g`, id).Scan(&grantID); err != nil {
			return mapErr(err)
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2
			WHERE id = $1 AND rotated_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, id, now.UTC())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			t, err := scanRefresh(tx.QueryRow(ctx, `SELECT `+refreshCols+` FROM refresh_tokens
				WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)`, id, now.UTC()))
			if err != nil {
				return mapErr(err)
			}
			consumed = t
			return store.ErrConsumed
		}
		if err := insertRefresh(ctx, tx, next); err != nil {
			return err
		}
		// Older generations: only the token just rotated is needed to
		// recognise a replay.
		_, err = tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE grant_id = $1 AND rotated_at IS NOT NULL AND id <> $2`, grantID, id)
		return err
	})
	if err != nil {
		if consumed != nil {
			return consumed, fmt.Errorf("rotate refresh token: %w", store.ErrConsumed)
		}
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	return s.Get(ctx, next.ID, now)
}

// ---- identifier access tokens ----

type accessTokenStore struct{ db *Store }

const accessCols = `id, grant_id, client_id, subject, scope, created_at, expires_at, cnf_jkt, cnf_x5t_s256`

func scanAccess(row pgx.Row) (*store.AccessToken, error) {
	var (
		t                store.AccessToken
		created, expires time.Time
	)
	if err := row.Scan(&t.ID, &t.GrantID, &t.ClientID, &t.Subject, &t.Scope, &created, &expires, &t.Confirmation.JKT, &t.Confirmation.X5TS256); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = created.UTC(), expires.UTC()
	return &t, nil
}

func (s accessTokenStore) Create(ctx context.Context, t *store.AccessToken) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO access_tokens (`+accessCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
		t.ID, t.GrantID, t.ClientID, t.Subject, strsOrNil(t.Scope), t.CreatedAt.UTC(), t.ExpiresAt.UTC(), t.Confirmation.JKT, t.Confirmation.X5TS256)
	if err != nil {
		return fmt.Errorf("create access token: %w", mapErr(err))
	}
	return nil
}

func (s accessTokenStore) Get(ctx context.Context, id string, now time.Time) (*store.AccessToken, error) {
	if !storable(id) {
		return nil, fmt.Errorf("get access token: %w", errNotStorable)
	}
	t, err := scanAccess(s.db.pool.QueryRow(ctx, `SELECT `+accessCols+` FROM access_tokens WHERE id = $1 AND expires_at > $2`, id, now.UTC()))
	if err != nil {
		return nil, fmt.Errorf("get access token: %w", mapErr(err))
	}
	return t, nil
}

func (s accessTokenStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return fmt.Errorf("delete access token: %w", errNotStorable)
	}
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM access_tokens WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete access token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete access token: %w", store.ErrNotFound)
	}
	return nil
}

// ---- signing keys ----

type keyStore struct{ db *Store }

// keysLockID names the advisory lock that serialises key-set changes
// across nodes ("keyward keys" in ASCII, arbitrary but fixed).
const keysLockID int64 = 0x6b77_6b65_7973

const keyCols = `id, alg, public_jwk, private_sealed, created_at, retired_at, delete_after`

func scanKey(row pgx.Row) (*store.SigningKey, error) {
	var (
		k                  store.SigningKey
		created            time.Time
		retired, deleteAft *time.Time
	)
	if err := row.Scan(&k.ID, &k.Alg, &k.Public, &k.PrivateSealed, &created, &retired, &deleteAft); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt, k.DeleteAfter = created.UTC(), fromTS(retired), fromTS(deleteAft)
	return &k, nil
}

func insertKeys(ctx context.Context, tx pgx.Tx, keys []*store.SigningKey) error {
	for _, k := range keys {
		_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+keyCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
			k.ID, k.Alg, k.Public, k.PrivateSealed, k.CreatedAt.UTC(), tsOrNil(k.RetiredAt), tsOrNil(k.DeleteAfter))
		if err != nil {
			return fmt.Errorf("insert key %q: %w", k.ID, mapErr(err))
		}
	}
	return nil
}

func (s keyStore) List(ctx context.Context) ([]*store.SigningKey, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+keyCols+` FROM signing_keys ORDER BY created_at, seq`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out, err := collect(rows, scanKey)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// AddIfEmpty takes a transaction-scoped advisory lock before looking at
// the table: row locks cannot guard an empty table, and SERIALIZABLE would
// turn the race into retries instead of a clean "someone else won".
func (s keyStore) AddIfEmpty(ctx context.Context, keys []*store.SigningKey) (bool, error) {
	added := false
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keysLockID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM signing_keys)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		added = true
		return insertKeys(ctx, tx, keys)
	})
	if err != nil {
		return false, fmt.Errorf("add keys: %w", err)
	}
	return added, nil
}

func (s keyStore) Rotate(ctx context.Context, next []*store.SigningKey, now, deleteAfter time.Time) error {
	algs := make([]string, 0, len(next))
	for _, k := range next {
		algs = append(algs, k.Alg)
	}
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keysLockID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = $1, delete_after = $2
			WHERE retired_at IS NULL AND alg = ANY($3)`, now.UTC(), deleteAfter.UTC(), algs); err != nil {
			return err
		}
		return insertKeys(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("rotate keys: %w", err)
	}
	return nil
}

func (s keyStore) DeleteRetired(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND delete_after < $1`, now.UTC())
	if err != nil {
		return 0, fmt.Errorf("delete retired keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// ---- purge ----

type durablePurger struct{ db *Store }

// Purge removes expired grants (their tokens cascade), then expired tokens
// whose grant lives on, then expired revocation journal entries; at most
// limit of each kind.
func (p durablePurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	total := 0
	for _, t := range []struct{ table, pred string }{
		{"grants", "expires_at <= $1"},
		{"refresh_tokens", "expires_at <= $1"},
		{"access_tokens", "expires_at <= $1"},
		{"revocations", "expires_at <= $1"},
	} {
		n, err := p.db.purgeBatch(ctx, t.table, "id", t.pred, now, limit)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ---- revocation journal ----

type revocationJournal struct{ db *Store }

const revocationCols = `id, kind, subject, client_id, actor, token_id, revoked_at, expires_at`

func (s revocationJournal) Add(ctx context.Context, r *store.Revocation) error {
	if !storable(r.ID, string(r.Kind), r.Subject, r.ClientID, r.Actor, r.TokenID) {
		return fmt.Errorf("add revocation: %w", errNotStorable)
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO revocations (`+revocationCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		r.ID, string(r.Kind), r.Subject, r.ClientID, r.Actor, r.TokenID, r.RevokedAt.UTC(), r.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("add revocation: %w", mapErr(err))
	}
	return nil
}

func (s revocationJournal) ListLive(ctx context.Context, now time.Time) ([]*store.Revocation, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+revocationCols+` FROM revocations WHERE expires_at > $1 ORDER BY revoked_at, id`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	out, err := collect(rows, func(row pgx.Row) (*store.Revocation, error) {
		var v store.Revocation
		var kind string
		if err := row.Scan(&v.ID, &kind, &v.Subject, &v.ClientID, &v.Actor, &v.TokenID, &v.RevokedAt, &v.ExpiresAt); err != nil {
			return nil, err
		}
		v.Kind = store.RevocationKind(kind)
		v.RevokedAt, v.ExpiresAt = v.RevokedAt.UTC(), v.ExpiresAt.UTC()
		return &v, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list revocations: %w", err)
	}
	return out, nil
}
