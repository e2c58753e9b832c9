package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another process (a second node on the same file, or the CLI).
const busyTimeoutMillis = 10_000

// Store is an open SQLite store. It is safe for concurrent use. Update
// functions run inside the write transaction, which holds the only writer
// connection: they must not call back into the store.
type Store struct {
	w   *pool // the single writer connection
	r   *pool // read-only connections
	log *slog.Logger
	// existing: open only a database that is there and at the current
	// schema (WithoutMigrations).
	existing bool
	keyCheck store.KeyCheck
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

// WithoutMigrations opens only an existing database whose schema is
// current: Open neither creates the file nor migrates, and fails with
// store.ErrNoSchema otherwise. The administrative commands use it, so that
// a mistyped path cannot create a database (docs/operator-guide.md).
func WithoutMigrations() Option { return func(s *Store) { s.existing = true } }

// WithKeyCheck has Open hand check the newest stored signing key before it
// migrates the schema, and fail, having migrated nothing, if check fails.
// A database without keys (or without tables) is not checked.
func WithKeyCheck(check store.KeyCheck) Option { return func(s *Store) { s.keyCheck = check } }

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. path must name a file: two pools share it, so
// ":memory:" does not work.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: invalid database path %q", path)
	}
	db := &Store{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(db)
	}
	log := db.log
	if db.existing {
		if err := checkExisting(ctx, path, log); err != nil {
			return nil, err
		}
	} else if err := createPrivate(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMillis))
	q.Set("_foreign_keys", "on")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	switch {
	case db.existing:
		err = checkSchema(ctx, w, log)
	case db.keyCheck != nil:
		if err = checkStoredKey(ctx, w, db.keyCheck); err == nil {
			err = migrate(ctx, w, log)
		}
	default:
		err = migrate(ctx, w, log)
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	restrictFiles(path, log)

	q.Set("_txlock", "deferred")
	q.Set("_query_only", "on")
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	// Idle readers stay open: a new connection would prepare every
	// statement again.
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	log.Debug("sqlite store open", "path", path)
	db.w, db.r = newPool(w), newPool(r)
	return db, nil
}

// newProvider returns the goose provider for the embedded migrations.
func newProvider(db *sql.DB, log *slog.Logger) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goMigrations...),
		goose.WithSlog(log))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}

// migrate applies every pending migration. The provider is not closed: that
// would close db.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	p, err := newProvider(db, log)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, r := range res {
		log.Info("sqlite migration applied", "version", r.Source.Version, "duration_seconds", r.Duration.Seconds())
	}
	return nil
}

// checkStoredKey hands the newest signing key to check, if the database has
// the table and a key in it.
func checkStoredKey(ctx context.Context, db *sql.DB, check store.KeyCheck) error {
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'signing_keys'`).Scan(&tables); err != nil {
		return fmt.Errorf("sqlite: look for signing keys: %w", err)
	}
	if tables == 0 {
		return nil
	}
	var id string
	var sealed []byte
	err := db.QueryRowContext(ctx, `SELECT id, private_sealed FROM signing_keys ORDER BY created_at DESC LIMIT 1`).Scan(&id, &sealed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: read a signing key: %w", err)
	}
	return check(ctx, id, sealed)
}

// SchemaVersion reports the schema version the database is at and the
// latest one this build knows.
func (db *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	p, err := newProvider(db.w.DB, db.log)
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}

// Close closes both pools.
func (db *Store) Close() error {
	return errors.Join(db.r.Close(), db.w.Close())
}

// Durable returns the durable stores. SQLite is single-node, so Notifier
// is nil.
func (db *Store) Durable() store.Durable {
	return store.Durable{
		Clients:        clients{db},
		Authorizations: authorizations{db},
		Grants:         grants{db},
		RefreshTokens:  refreshTokens{db},
		AccessTokens:   accessTokens{db},
		Keys:           keys{db},
		Revocations:    revocations{db},
		Purger:         durablePurger{db},
	}
}

// Ephemeral returns the ephemeral stores.
func (db *Store) Ephemeral() store.Ephemeral {
	return store.Ephemeral{
		AuthzSessions:   authzSessions{db},
		SubjectSessions: subjectSessions{db},
		Codes:           codes{db},
		PAR:             pars{db},
		Replay:          replay{db},
		Purger:          ephemeralPurger{db},
	}
}

// ---- shared helpers ----

// isConstraint reports whether err is a SQLite constraint failure with one
// of the given extended codes.
func isConstraint(err error, codes ...int) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code() == c {
			return true
		}
	}
	return false
}

func isDuplicate(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE)
}

func isForeignKey(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// insert runs an INSERT and maps a key collision to ErrExists.
func (db *Store) insert(ctx context.Context, what, query string, args ...any) error {
	if _, err := db.w.ExecContext(ctx, query, args...); err != nil {
		if isDuplicate(err) {
			return fmt.Errorf("create %s: %w", what, store.ErrExists)
		}
		return fmt.Errorf("create %s: %w", what, err)
	}
	return nil
}

// execOne runs a statement that must touch exactly one row; none means
// ErrNotFound.
func (db *Store) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := db.w.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits if fn
// succeeds.
func (db *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	tx, err := db.w.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer db.w.prepareMissed(ctx)
	if err := fn(tx); err != nil {
		// fn's error goes back unchanged (the Update contract); a failed
		// rollback leaves the connection to database/sql to discard.
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// purgeBatch deletes up to limit expired rows of table in one bounded
// statement. table and column are constants of this package.
func (db *Store) purgeBatch(ctx context.Context, table, column string, nowMillis int64, limit int) (int, error) {
	q := `DELETE FROM ` + table + ` WHERE rowid IN (SELECT rowid FROM ` + table +
		` WHERE ` + column + ` <= ? LIMIT ?)`
	res, err := db.w.ExecContext(ctx, q, nowMillis, limit)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", table, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", table, err)
	}
	return int(n), nil
}
