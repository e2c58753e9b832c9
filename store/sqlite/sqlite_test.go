package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlite"
	"github.com/keyward/keyward/store/storetest"
)

func open(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func newDB(t *testing.T) *sqlite.DB {
	return open(t, filepath.Join(t.TempDir(), "keyward.db"))
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return newDB(t).Durable() })
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return newDB(t).Ephemeral() })
}
