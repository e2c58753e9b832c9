package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keyward/keyward/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is an open PostgreSQL backend. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	notifier *Notifier
	// existing: the schema must be there and current (WithoutMigrations).
	existing bool
	keyCheck store.KeyCheck
}

// WithoutMigrations opens only a database whose Keyward schema is current:
// Open does not migrate (nor create goose's version table) and fails with
// store.ErrNoSchema otherwise. The administrative commands use it, so that
// a mistyped DSN cannot put a schema into a database (docs/operator-guide.md).
func WithoutMigrations() Option { return func(s *Store) { s.existing = true } }

// Option configures Open.
type Option func(*Store)

// WithKeyCheck has Open hand check the newest stored signing key before it
// migrates the schema, and fail, having migrated nothing, if check fails.
// A database without keys (or without tables) is not checked.
func WithKeyCheck(check store.KeyCheck) Option { return func(s *Store) { s.keyCheck = check } }

// WithLogger sets the logger (default: discard); nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Open connects to the database at dsn (a libpq URL or key=value string),
// applies pending migrations and returns the backend. Several nodes may
// call Open at the same time on the same database: goose's advisory session
// lock lets one migrate while the others wait.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	db := &Store{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(db)
	}
	log := db.log
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The DSN may hold a password: never echo it.
		return nil, errors.New("postgres: invalid connection string")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// Without connect_timeout in the DSN a connection attempt to an
		// unreachable host waits for the kernel's TCP timeout (minutes);
		// requests must fail fast with 503 instead (store.IsUnavailable).
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	// The driver's own messages go to the structured log too (JSON lines
	// only on stderr, docs/operator-guide.md "Logs").
	cfg.ConnConfig.Tracer = slogTracer(log)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	switch {
	case db.existing:
		err = checkSchema(ctx, pool)
	case db.keyCheck != nil:
		if err = checkStoredKey(ctx, pool, db.keyCheck); err == nil {
			err = migrate(ctx, pool, log)
		}
	default:
		err = migrate(ctx, pool, log)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	db.pool = pool
	db.notifier = newNotifier(pool, log)
	return db, nil
}

// checkStoredKey hands the newest signing key to check, if the database has
// the table and a key in it.
func checkStoredKey(ctx context.Context, pool *pgxpool.Pool, check store.KeyCheck) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('signing_keys') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look for signing keys: %w", err)
	}
	if !exists {
		return nil
	}
	var id string
	var sealed []byte
	err := pool.QueryRow(ctx, `SELECT id, private_sealed FROM signing_keys ORDER BY created_at DESC LIMIT 1`).Scan(&id, &sealed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("postgres: read a signing key: %w", err)
	}
	return check(ctx, id, sealed)
}

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	// Poll every second rather than goose's default five: nodes starting
	// together should not wait long for the one that migrates.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migration locker: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(log),
	)
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied migration", "source", r.Source.Path, "duration_seconds", r.Duration.Seconds())
	}
	return nil
}

// Close stops the notifier and closes every connection. It returns nil:
// pgxpool reports no error on close; the signature is the one every
// backend shares.
func (db *Store) Close() error {
	db.notifier.close()
	db.pool.Close()
	return nil
}

// Pool returns the connection pool, for health checks and tests.
func (db *Store) Pool() *pgxpool.Pool { return db.pool }

// Notifier returns the cluster notifier (LISTEN/NOTIFY).
func (db *Store) Notifier() store.Notifier { return db.notifier }

// Durable returns the durable stores, with Notifier set.
func (db *Store) Durable() store.Durable {
	return store.Durable{
		Clients:        clientStore{db},
		Authorizations: authorizationStore{db},
		Grants:         grantStore{db},
		RefreshTokens:  refreshTokenStore{db},
		AccessTokens:   accessTokenStore{db},
		Keys:           keyStore{db},
		Revocations:    revocationJournal{db},
		Purger:         durablePurger{db},
		Notifier:       db.notifier,
	}
}

// Ephemeral returns the stores for short-lived objects.
func (db *Store) Ephemeral() store.Ephemeral {
	return store.Ephemeral{
		AuthzSessions:   authzSessionStore{db},
		SubjectSessions: subjectSessionStore{db},
		Codes:           codeStore{db},
		PAR:             parStore{db},
		Replay:          replayCache{db},
		Purger:          ephemeralPurger{db},
	}
}

// PostgreSQL error codes we translate to store sentinels.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
	// Conflicts after which the transaction may simply be run again.
	pgDeadlockDetected     = "40P01"
	pgSerializationFailure = "40001"
)

// connectTimeout bounds a connection attempt when the DSN sets no
// connect_timeout.
const connectTimeout = 5 * time.Second

// mapErr translates driver errors into store sentinels, keeping the cause.
func mapErr(err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrExists, err)
	case errors.As(err, &pgErr) && pgErr.Code == pgForeignKeyViolation:
		return fmt.Errorf("referenced record: %w: %w", store.ErrNotFound, err)
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	}
	return err
}

// storable reports whether every s can be a PostgreSQL text value (valid
// UTF-8 without NUL). Keys come from the network: one that cannot be
// stored cannot have been stored, so lookups answer ErrNotFound without a
// round trip instead of surfacing the driver's encoding error.
func storable(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// errNotStorable is returned by lookups of keys that fail storable.
var errNotStorable = fmt.Errorf("key is not valid text: %w", store.ErrNotFound)

// tsOrNil stores the zero time as NULL and everything else in UTC.
func tsOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// fromTS reads a nullable timestamptz back as UTC, NULL as the zero time.
func fromTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// bytesOrNil stores empty byte slices as NULL so they read back as nil.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// strsOrNil stores empty string lists as NULL so they read back as nil.
func strsOrNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// inTx runs fn in a transaction, committing when it returns nil. A
// transaction PostgreSQL aborts as a deadlock victim or a serialisation
// failure is run again (fn must be safe to repeat).
func (db *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.retry(ctx, func() error { return pgx.BeginFunc(ctx, db.pool, fn) })
}

// maxTries bounds retry's attempts.
const maxTries = 5

// retry runs fn again while it fails with an error PostgreSQL asks the
// client to retry: deadlock_detected (40P01) or serialization_failure
// (40001). The lock order of this package avoids deadlocks between its own
// statements; this is the safety net for the ones it cannot foresee.
func (db *Store) retry(ctx context.Context, fn func() error) error {
	var err error
	for range maxTries {
		if err = fn(); !retryable(err) || ctx.Err() != nil {
			return err
		}
		db.log.WarnContext(ctx, "postgres: transaction aborted by a conflict; retrying", "error", err)
	}
	return err
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgDeadlockDetected || pgErr.Code == pgSerializationFailure)
}

// purgeBatch deletes at most limit rows of table matching pred (a boolean
// SQL expression over $1 = now), by primary key so that each batch only
// locks the rows it removes.
func (db *Store) purgeBatch(ctx context.Context, table, key, pred string, now time.Time, limit int) (int, error) {
	// table, key and pred are constants of this package, never input.
	q := fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (SELECT %[2]s FROM %[1]s WHERE %[3]s LIMIT $2 FOR UPDATE SKIP LOCKED)`, table, key, pred)
	tag, err := db.pool.Exec(ctx, q, now.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", table, err)
	}
	return int(tag.RowsAffected()), nil
}
