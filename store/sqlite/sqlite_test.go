package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlite"
	"github.com/keyward/keyward/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path)
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

func newDB(t testing.TB) *sqlite.Store {
	return open(t, filepath.Join(t.TempDir(), "keyward.db"))
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return newDB(t).Durable() })
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return newDB(t).Ephemeral() })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	base := storetest.Base
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	d, e := db.Durable(), db.Ephemeral()
	ctx := t.Context()
	want := &store.Client{ID: "c1", SecretHash: []byte{1, 2, 3}, CreatedAt: base, UpdatedAt: base,
		Metadata: store.ClientMetadata{ClientName: "one", RedirectURIs: []string{"https://rp.example/cb"}}}
	if err := d.Clients.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := e.Codes.Create(ctx, &store.Code{ID: "code", ClientID: "c1", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Codes.Consume(ctx, "code", base); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	got, err := db.Durable().Clients.Get(ctx, "c1")
	if err != nil {
		t.Fatalf("client after reopen: %v", err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("client after reopen (-want +got):\n%s", d)
	}
	// The consumed flag survives too: a restart must not re-arm a code.
	if _, err := db.Ephemeral().Codes.Consume(ctx, "code", base); !errors.Is(err, store.ErrConsumed) {
		t.Errorf("consume after reopen: err = %v, want ErrConsumed", err)
	}
}

func TestMigrationsOnEmptyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	db := open(t, path)
	current, latest, err := db.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if latest != 5 || current != latest {
		t.Errorf("schema version %d, latest %d; want both 5", current, latest)
	}
	// Opening an up-to-date database a second time applies nothing and
	// keeps the version.
	again := open(t, path)
	current, _, err = again.SchemaVersion(t.Context())
	if err != nil || current != latest {
		t.Errorf("second open: version %d, err %v; want %d", current, err, latest)
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "x.db?mode=ro", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if db, err := sqlite.Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// Two handles on one file stand for two processes (a node and the CLI, or
// two nodes on shared storage): the IMMEDIATE write lock and busy timeout
// must keep AddIfEmpty exactly-once across them.
func TestAddIfEmptyAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	handles := []*sqlite.Store{open(t, path), open(t, path), open(t, path)}
	var wg sync.WaitGroup
	added := make([]bool, 12)
	errs := make([]error, len(added))
	for i := range added {
		wg.Go(func() {
			k := &store.SigningKey{ID: fmt.Sprintf("k%d", i), Alg: "RS256", Public: []byte("{}"), PrivateSealed: []byte{1}, CreatedAt: storetest.Base}
			added[i], errs[i] = handles[i%len(handles)].Durable().Keys.AddIfEmpty(t.Context(), []*store.SigningKey{k})
		})
	}
	wg.Wait()
	n := 0
	for i := range added {
		if errs[i] != nil {
			t.Errorf("AddIfEmpty %d: %v", i, errs[i])
		}
		if added[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d callers added keys, want 1", n)
	}
	keys, err := handles[0].Durable().Keys.List(t.Context())
	if err != nil || len(keys) != 1 {
		t.Errorf("stored %d keys (err %v), want 1", len(keys), err)
	}
}

// A long chain of rotations under a grant without expiry leaves two rows:
// the rotated predecessor (for replay detection) and the live token.
func TestRotationChainLeavesTwoRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	storetest.RotateChain(t, open(t, path).Durable(), "g", 100)
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRowContext(t.Context(), `SELECT count(*) FROM refresh_tokens WHERE grant_id = 'g'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("100 rotations left %d refresh-token rows, want 2", n)
	}
}

// version1 makes a database file at schema version 1 and opens it without
// the store, to write rows in the old layout.
func version1(t *testing.T) (path string, raw *sql.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "keyward.db")
	if err := sqlite.MigrateTo(t.Context(), path, 1); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return path, raw
}

// A database of schema version 1 (replay table "replay" keyed by the raw
// identifier, key column "public") keeps its data through the upgrade to
// the shared names: a replay-cache entry written before the upgrade still
// catches the replay after it, under the key the core now passes, and the
// signing keys still read.
func TestUpgradeFromVersion1(t *testing.T) {
	ctx := t.Context()
	path, raw := version1(t)
	base := storetest.Base
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO replay (key, until) VALUES (?, ?), (?, ?)`, []any{
			"client_assertion:c1:jti-live", base.Add(time.Minute).UnixMilli(),
			"client_assertion:c1:jti-gone", base.Add(-time.Minute).UnixMilli()}},
		{`INSERT INTO signing_keys (id, alg, public, private_sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
			[]any{"k1", "ES256", []byte(`{"kty":"EC"}`), []byte{1}, base.UnixMilli()}},
	} {
		if _, err := raw.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}

	db := open(t, path)
	if current, latest, err := db.SchemaVersion(ctx); err != nil || current != latest {
		t.Fatalf("after Open: version %d of %d, err %v", current, latest, err)
	}
	replay := db.Ephemeral().Replay
	for _, tc := range []struct {
		id   string
		used bool
	}{
		{"client_assertion:c1:jti-live", true},  // live before the upgrade: still a replay
		{"client_assertion:c1:jti-gone", false}, // expired before: may be recorded anew
		{"client_assertion:c1:jti-new", false},
	} {
		used, err := replay.MarkUsed(ctx, storetest.ReplayKey(tc.id), base.Add(time.Minute), base)
		if err != nil || used != tc.used {
			t.Errorf("MarkUsed(%s) = %v, %v; want %v, nil", tc.id, used, err, tc.used)
		}
	}
	keys, err := db.Durable().Keys.List(ctx)
	if err != nil || len(keys) != 1 || string(keys[0].Public) != `{"kty":"EC"}` {
		t.Errorf("keys after upgrade = %v, %v; want k1 with its public JWK", keys, err)
	}
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name = 'replay'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("old replay table: %d left (err %v), want dropped", n, err)
	}
}

// A key check that fails stops Open before it migrates an older schema: a
// node with the wrong master key must not upgrade a restored backup. The
// check sees the newest key in the old layout; a passing check migrates;
// a database without keys is not checked.
func TestKeyCheckBeforeMigrating(t *testing.T) {
	ctx := t.Context()
	path, raw := version1(t)
	base := storetest.Base
	if _, err := raw.ExecContext(ctx, `INSERT INTO signing_keys (id, alg, public, private_sealed, created_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)`,
		"old", "ES256", []byte(`{}`), []byte{1}, base.UnixMilli(),
		"new", "ES256", []byte(`{}`), []byte{2}, base.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		var v int64
		if err := raw.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	errWrongKey := errors.New("wrong key")
	var gotID string
	var gotSealed []byte
	_, err := sqlite.Open(ctx, path, sqlite.WithKeyCheck(func(_ context.Context, id string, sealed []byte) error {
		gotID, gotSealed = id, sealed
		return errWrongKey
	}))
	if !errors.Is(err, errWrongKey) {
		t.Fatalf("Open with a failing check: err = %v, want the check's error", err)
	}
	if gotID != "new" || string(gotSealed) != "\x02" {
		t.Errorf("check saw %q %v, want the newest key", gotID, gotSealed)
	}
	if v := version(); v != 1 {
		t.Fatalf("schema version %d after a failed check, want 1: a migration ran", v)
	}

	db, err := sqlite.Open(ctx, path, sqlite.WithKeyCheck(func(context.Context, string, []byte) error { return nil }))
	if err != nil {
		t.Fatalf("Open with a passing check: %v", err)
	}
	defer db.Close()
	if current, latest, err := db.SchemaVersion(ctx); err != nil || current != latest {
		t.Errorf("after a passing check: version %d of %d, err %v", current, latest, err)
	}

	fresh, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "new.db"), sqlite.WithKeyCheck(func(context.Context, string, []byte) error {
		t.Error("check called on a database without keys")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
}
