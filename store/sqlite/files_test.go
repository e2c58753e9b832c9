package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlite"
)

// WithoutMigrations opens a current database and nothing else: a missing
// file is neither created nor migrated; a file without the schema is left
// without one.
func TestWithoutMigrations(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.Open(t.Context(), missing, sqlite.WithoutMigrations()); !errors.Is(err, store.ErrNoSchema) {
		t.Errorf("missing file: err = %v, want store.ErrNoSchema", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("the missing file was created")
	}
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	if _, err := sqlite.Open(t.Context(), empty, sqlite.WithoutMigrations()); !errors.Is(err, store.ErrNoSchema) {
		t.Errorf("empty file: err = %v, want store.ErrNoSchema", err)
	}
	if info, _ := os.Stat(empty); info.Size() != 0 {
		t.Errorf("the empty file was written to (%d bytes)", info.Size())
	}

	path := filepath.Join(dir, "k.db")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{path, path + "-wal"} {
		if info, err := os.Stat(p); err == nil && info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, info.Mode().Perm())
		}
	}
	db, err = sqlite.Open(t.Context(), path, sqlite.WithoutMigrations())
	if err != nil {
		t.Fatalf("current database: %v", err)
	}
	db.Close()
}
