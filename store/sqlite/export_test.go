package sqlite

import (
	"context"
	"database/sql"
	"log/slog"
)

// MigrateTo brings the database file at path to schema version v and no
// further, so that a test can write rows in an old schema and watch Open
// upgrade them.
func MigrateTo(ctx context.Context, path string, v int64) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	p, err := newProvider(db, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, v)
	return err
}
