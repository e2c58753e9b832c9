package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/store/postgres/pgtest"
)

// pgTables counts the tables of the public schema, goose's included.
func pgTables(t *testing.T, dsn string) int {
	t.Helper()
	return pgCount(t, dsn, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`)
}

// An administrative command against an empty PostgreSQL database, with or
// without the master key, refuses and leaves the database and the data
// directory as they were (issue: the CLI spoilt a new database). A wrong
// master key against an initialised database is refused before anything
// is written, and a restored database without its master key is refused
// by serve too rather than getting a new key.
func TestAdminCommandsNeverCreateAStore(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "data")
	for _, args := range [][]string{
		{"keys", "list", "--store", dsn, "--data-dir", dir},
		{"keys", "rotate", "--store", dsn, "--data-dir", dir},
		{"client", "list", "--store", dsn, "--data-dir", dir},
		{"keys", "list", "--store", dsn, "--data-dir", dir, "--master-key", testMasterKey},
		{"client", "create", "--store", dsn, "--data-dir", dir, "--master-key", testMasterKey,
			"--name", "x", "--redirect-uri", "https://x.example/cb"},
	} {
		_, _, err := runCmd(t, "", args...)
		if err == nil || !strings.Contains(err.Error(), "keyward init") {
			t.Errorf("%v: err = %v, want a refusal pointing at keyward init", args[:2], err)
		}
		if strings.Contains(err.Error(), dsn) {
			t.Errorf("the error shows the DSN: %v", err)
		}
		if n := pgTables(t, dsn); n != 0 {
			t.Fatalf("%v created %d table(s) in the empty database", args[:2], n)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Fatalf("%v created the data directory %s", args[:2], dir)
		}
	}

	// init creates the schema and keys under the given master key.
	if out, _, err := runCmd(t, "", "init", "--store", dsn, "--data-dir", dir, "--master-key", testMasterKey); err != nil || !strings.Contains(out, "schema current") {
		t.Fatalf("init: %q %v", out, err)
	}
	tables := pgTables(t, dsn)
	if tables == 0 {
		t.Fatal("init created no tables")
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Error("init wrote a master.key although the master key was given")
	}
	before, _, err := runCmd(t, "", "keys", "list", "--store", dsn, "--data-dir", dir, "--master-key", testMasterKey)
	if err != nil || strings.Count(before, "  active\n") != 5 {
		t.Fatalf("keys list with the right master key: %q %v", before, err)
	}

	// Without the master key, and with a wrong one: refused, nothing written.
	if _, _, err := runCmd(t, "", "keys", "rotate", "--store", dsn, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "no master key") {
		t.Errorf("rotate without the master key: %v", err)
	}
	wrong := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if _, _, err := runCmd(t, "", "keys", "rotate", "--store", dsn, "--data-dir", dir, "--master-key", wrong); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Errorf("rotate with a wrong master key: %v", err)
	}
	after, _, err := runCmd(t, "", "keys", "list", "--store", dsn, "--data-dir", dir, "--master-key", testMasterKey)
	if err != nil || after != before {
		t.Errorf("the key set changed after refused commands:\nbefore %q\nafter  %q (%v)", before, after, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Error("a refused command wrote a master.key")
	}

	// A restored database without its master key: init (as serve) refuses
	// to generate a new one.
	if _, _, err := runCmd(t, "", "init", "--store", dsn, "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "restore the master key") {
		t.Errorf("init on a store with keys but no master key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
		t.Error("a new master.key was generated for a store holding keys")
	}
	if n := pgTables(t, dsn); n != tables {
		t.Errorf("tables: %d, want %d", n, tables)
	}

	// A backup from an older release (here: the last migration unrecorded)
	// with a wrong master key: init, as serve, stops before it migrates.
	pgExec(t, dsn, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`)
	versions := pgCount(t, dsn, `SELECT count(*) FROM goose_db_version`)
	if _, _, err := runCmd(t, "", "init", "--store", dsn, "--data-dir", dir, "--master-key", wrong); err == nil || !strings.Contains(err.Error(), "does not open") {
		t.Errorf("init with a wrong master key on an older schema: %v", err)
	}
	if n := pgCount(t, dsn, `SELECT count(*) FROM goose_db_version`); n != versions {
		t.Errorf("goose_db_version rows %d → %d: a migration ran under a wrong master key", versions, n)
	}
}

func pgExec(t *testing.T, dsn, sql string) {
	t.Helper()
	if _, err := pgConn(t, dsn).Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func pgCount(t *testing.T, dsn, query string) int {
	t.Helper()
	var n int
	if err := pgConn(t, dsn).QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// pgConn connects to dsn for the rest of the test.
func pgConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// testMasterKey is base64 of 32 bytes.
const testMasterKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

// The data directory is created, mode 0700, with the database file 0600,
// even when the secrets come from flags (issue: "unable to open database
// file (14)").
func TestInitCreatesThePrivateDataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	if _, _, err := runCmd(t, "", "init", "--data-dir", dir, "--master-key", testMasterKey, "--issuer", "https://op.example"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "keyward.db"): 0o600} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "keyward.db-*"))
	for _, m := range matches {
		if info, err := os.Stat(m); err == nil && info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", m, info.Mode().Perm())
		}
	}
}

// client create reads the issuer from the same configuration as serve (here
// the environment) for registration_client_uri, and --dev accepts an
// http:// loopback redirect URI for a web client as serve --dev does.
func TestClientCreateIssuerAndDev(t *testing.T) {
	dir := t.TempDir()
	env := []string{"KEYWARD_ISSUER=https://login.example.org", "KEYWARD_DATA_DIR=" + dir}
	run := func(args ...string) (string, error) {
		var out, errb strings.Builder
		err := Run(t.Context(), Options{}, args, env, strings.NewReader(""), &out, &errb)
		return out.String(), err
	}
	if _, err := run("init"); err != nil {
		t.Fatal(err)
	}
	out, err := run("client", "create", "--name", "Shop", "--redirect-uri", "https://shop.example/cb", "--id", "shop")
	if err != nil || !strings.Contains(out, `"registration_client_uri": "https://login.example.org/clients/shop"`) {
		t.Errorf("client create: %v\n%s", err, out)
	}
	loopback := []string{"client", "create", "--name", "Local", "--redirect-uri", "http://127.0.0.1:5000/cb"}
	if _, err := run(loopback...); err == nil {
		t.Error("an http:// redirect URI was accepted without --dev")
	}
	if out, err := run(append(loopback, "--dev")...); err != nil {
		t.Errorf("client create --dev: %v\n%s", err, out)
	}
}
