package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/keyward/keyward/store"
)

// createPrivate creates the database file (mode 0600) when it does not
// exist, so that SQLite does not create it with the process umask: the
// file holds sealed keys and hashed secrets. The directory must exist: a
// mistyped path is an error, not a new tree (node creates the data
// directory).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	return f.Close()
}

// restrictFiles narrows the write-ahead log and shared-memory files, which
// SQLite creates with the umask, to the owner.
func restrictFiles(path string, log *slog.Logger) {
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			log.Warn("sqlite: restrict file mode", "file", p, "error", err.Error())
		}
	}
}

// checkSchema fails with store.ErrNoSchema unless every migration this
// build knows has been applied. It only reads: goose would create its
// version table.
func checkSchema(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: the database has no Keyward tables: %w", store.ErrNoSchema)
	}
	var current sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&current); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	p, err := newProvider(db, log)
	if err != nil {
		return err
	}
	var latest int64
	for _, src := range p.ListSources() {
		latest = max(latest, src.Version)
	}
	if current.Int64 < latest {
		return fmt.Errorf("sqlite: schema version %d, this build needs %d: %w", current.Int64, latest, store.ErrNoSchema)
	}
	return nil
}

// checkExisting checks the schema of the database at path through a
// read-only connection, before Open's writer connection sets its journal
// mode: a file that is not a current Keyward database is left untouched.
func checkExisting(ctx context.Context, path string, log *slog.Logger) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, store.ErrNoSchema)
	}
	ro, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer ro.Close()
	return checkSchema(ctx, ro, log)
}
