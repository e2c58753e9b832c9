package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"

	"github.com/pressly/goose/v3"
)

// goMigrations are the migrations SQL cannot express, registered with the
// files of migrations/ under versions of their own: no file may take
// these numbers.
var goMigrations = []*goose.Migration{
	goose.NewGoMigration(3, &goose.GoFunc{RunTx: hashReplayKeys}, nil),
}

// hashReplayKeys moves the entries of the version-1 replay table, keyed by
// the identifier itself, into replay_cache under the key the core now
// passes (the identifier's hex SHA-256, see store.ReplayCache), so that an
// assertion used just before an upgrade is still caught as a replay just
// after it. The table is bounded by the purge, so it is copied whole.
func hashReplayKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT key, until FROM replay`)
	if err != nil {
		return fmt.Errorf("read replay: %w", err)
	}
	type entry struct {
		key   string
		until int64
	}
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.key, &e.until); err != nil {
			rows.Close()
			return fmt.Errorf("read replay: %w", err)
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read replay: %w", err)
	}
	for _, e := range entries {
		sum := sha256.Sum256([]byte(e.key))
		if _, err := tx.ExecContext(ctx, `INSERT INTO replay_cache (key, expires_at) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
			hex.EncodeToString(sum[:]), e.until); err != nil {
			return fmt.Errorf("copy replay entry: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE replay`); err != nil {
		return fmt.Errorf("drop replay: %w", err)
	}
	return nil
}
