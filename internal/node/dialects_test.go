package node

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/sqlite"
)

// The two SQL dialects name their tables alike, and every PostgreSQL index
// has the name of its SQLite counterpart, so that operators, docs and
// queries need one vocabulary. (The column sets differ where the dialects
// store a record differently, e.g. a JSON body in SQLite.)
func TestSQLDialectsShareNames(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "k.db")
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	dsn := pgtest.NewDatabase(t)
	pg, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	liteTables := sqliteNames(ctx, t, raw, "table")
	liteIndexes := sqliteNames(ctx, t, raw, "index")

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pgTables := pgNames(ctx, t, conn, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`)
	pgIndexes := pgNames(ctx, t, conn, `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey'`)

	if d := cmp.Diff(liteTables, pgTables); d != "" {
		t.Errorf("tables (-sqlite +postgres):\n%s", d)
	}
	for _, ix := range pgIndexes {
		if !slices.Contains(liteIndexes, ix) {
			t.Errorf("PostgreSQL index %s has no SQLite index of that name (SQLite: %v)", ix, liteIndexes)
		}
	}
}

func sqliteNames(ctx context.Context, t *testing.T, db *sql.DB, kind string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = ? AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pgNames(ctx context.Context, t *testing.T, conn *pgx.Conn, q string) []string {
	t.Helper()
	rows, err := conn.Query(ctx, q+` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
