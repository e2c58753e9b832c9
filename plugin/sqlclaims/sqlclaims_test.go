package sqlclaims_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/sqlclaims"
	"github.com/keyward/keyward/store/postgres/pgtest"
)

// EnvMySQLDSN names the administrative MariaDB/MySQL DSN of the tests, such
// as root@tcp(127.0.0.1:3306)/ (.ci/run exports it).
const EnvMySQLDSN = "KEYWARD_TEST_MYSQL_DSN"

// mysqlDatabase creates a throw-away database on the server of
// KEYWARD_TEST_MYSQL_DSN, drops it when the test ends and returns a DSN for
// it. Without the variable the test is skipped, or fails when backends are
// required (KEYWARD_TEST_REQUIRE_BACKENDS or CI), as pgtest does.
func mysqlDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv(EnvMySQLDSN)
	if admin == "" {
		if os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != "" || os.Getenv("CI") != "" {
			t.Fatalf("%s is not set but backends are required", EnvMySQLDSN)
		}
		t.Skipf("%s not set; skipping MariaDB test", EnvMySQLDSN)
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvMySQLDSN, err)
	}
	db := openMySQL(t, cfg)
	name := "keyward_test_" + strings.ToLower(rand.Text())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// name is generated here from [a-z2-7]: safe to splice in.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("create database (is MariaDB running on %s?): %v", cfg.Addr, err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg.DBName = name
	return cfg.FormatDSN()
}

func openMySQL(t *testing.T, cfg *mysql.Config) *sql.DB {
	t.Helper()
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// backend is one real database with the fixture table "people".
type backend struct {
	driver string
	dsn    string
	db     *sql.DB // the test's own connection, for seeding and counting
	query  string  // the fixture query
	cfg    sqlclaims.Config
}

var fixtureClaims = map[string]string{
	"name":           "full_name",
	"name#de":        "name_de",
	"email":          "mail",
	"email_verified": "mail_ok",
	"updated_at":     "updated",
	"address":        "addr",
	"groups":         "grps",
}

func postgresBackend(t *testing.T) backend {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*pc)
	t.Cleanup(func() { db.Close() })
	mustExec(t, db, `CREATE TABLE people (sub text PRIMARY KEY, full_name text, name_de text, mail text,
		mail_ok boolean, updated bigint, addr jsonb, grps json, note text)`)
	mustExec(t, db, `INSERT INTO people VALUES ('u-1', 'Carol Chen', 'Carola Chen', 'carol@example.com', true, 1700000000,
		'{"country":"NL","locality":"Delft"}', '["admins","staff"]', NULL),
		('u-2', 'Dan Dahl', NULL, NULL, false, NULL, NULL, NULL, NULL)`)
	q := `SELECT full_name, name_de, mail, mail_ok, updated, addr, grps FROM people WHERE sub = $1`
	return backend{driver: "postgres", dsn: dsn, db: db, query: q, cfg: sqlclaims.Config{
		Driver: "postgres", DSN: dsn, Query: q, Claims: fixtureClaims,
	}}
}

func mysqlBackend(t *testing.T) backend {
	t.Helper()
	dsn := mysqlDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := openMySQL(t, cfg)
	mustExec(t, db, `CREATE TABLE people (sub VARCHAR(255) PRIMARY KEY, full_name TEXT, name_de TEXT, mail TEXT,
		mail_ok BOOLEAN, updated BIGINT, addr JSON, grps JSON, note TEXT)`)
	mustExec(t, db, `INSERT INTO people VALUES ('u-1', 'Carol Chen', 'Carola Chen', 'carol@example.com', TRUE, 1700000000,
		'{"country":"NL","locality":"Delft"}', '["admins","staff"]', NULL),
		('u-2', 'Dan Dahl', NULL, NULL, FALSE, NULL, NULL, NULL, NULL)`)
	q := "SELECT full_name, name_de, mail, mail_ok, updated, addr, grps FROM people WHERE sub = ?"
	return backend{driver: "mysql", dsn: dsn, db: db, query: q, cfg: sqlclaims.Config{
		Driver: "mysql", DSN: dsn, Query: q, Claims: fixtureClaims, JSONColumns: []string{"addr", "grps"},
	}}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func newSource(t *testing.T, cfg sqlclaims.Config) *sqlclaims.Source {
	t.Helper()
	src, err := sqlclaims.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Init(t.Context(), plugin.Env{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return src
}

func backends(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("postgres", func(t *testing.T) { f(t, postgresBackend(t)) })
	t.Run("mariadb", func(t *testing.T) { f(t, mysqlBackend(t)) })
}

func TestContract(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		src := newSource(t, b.cfg)
		plugintest.ClaimsSource(t, src, plugintest.SampleClaimsFixture())
		if err := src.Healthy(t.Context()); err != nil {
			t.Errorf("Healthy: %v", err)
		}
	})
}

func request(sub string, claims ...string) plugin.ClaimsRequest {
	return plugin.ClaimsRequest{Subject: sub, Claims: claims, Transport: oauth.ClaimsTransportUserInfo}
}

// TestNullsAndBooleans: NULL columns are left out, false stays false.
func TestNullsAndBooleans(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		src := newSource(t, b.cfg)
		got, err := src.Claims(t.Context(), request("u-2", "name", "name#de", "email", "email_verified", "updated_at", "address"))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"name": "Dan Dahl", "email_verified": false}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
	})
}

// TestInjectionAttempts sends hostile subjects: each is bound as a value,
// matches no row and leaves the table as it was.
func TestInjectionAttempts(t *testing.T) {
	attempts := []string{
		`' OR '1'='1`,
		`u-1' OR 'a'='a`,
		`u-1'; DROP TABLE people; --`,
		`u-1' -- `,
		`x' UNION SELECT full_name, name_de, mail, mail_ok, updated, addr, grps FROM people WHERE sub = 'u-1`,
		`u-1\' OR 1=1 #`,
		`u-1" OR "1"="1`,
		`$1`, `?`, `%`, `_-1`, `u-%`,
		"u-1\x00",
		"u-1\xff",
		strings.Repeat("A", 5000),
		`u-1/**/OR/**/1=1`,
		"u-1' OR sleep(5) #",
	}
	backends(t, func(t *testing.T, b backend) {
		src := newSource(t, b.cfg)
		for _, sub := range attempts {
			got, err := src.Claims(t.Context(), request(sub, "name", "email"))
			if err != nil {
				t.Errorf("Claims(%q): %v", sub, err)
				continue
			}
			if len(got) != 0 {
				t.Errorf("Claims(%q) = %v, want nothing", sub, got)
			}
		}
		var n int
		if err := b.db.QueryRowContext(t.Context(), "SELECT count(*) FROM people").Scan(&n); err != nil {
			t.Fatalf("people table after the attempts: %v", err)
		}
		if n != 2 {
			t.Errorf("people has %d rows after the attempts, want 2", n)
		}
	})
}

// TestReadOnlySession: even a query that would write cannot (PostgreSQL
// sessions are opened read-only); the statement check refuses it first.
func TestWritingQueryRefused(t *testing.T) {
	for _, q := range []string{
		"DELETE FROM people WHERE sub = $1",
		"SELECT 1 WHERE $1 = ''; DELETE FROM people",
		"UPDATE people SET mail = 'x' WHERE sub = $1",
	} {
		_, err := sqlclaims.New(sqlclaims.Config{Driver: "postgres", DSN: "postgres://x@127.0.0.1/db", Query: q, Claims: map[string]string{"email": "mail"}})
		if err == nil {
			t.Errorf("New accepted %q", q)
		}
	}
}

func TestMoreThanOneRow(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		cfg := b.cfg
		if b.driver == "postgres" {
			cfg.Query = "SELECT full_name FROM people WHERE sub <> $1"
		} else {
			cfg.Query = "SELECT full_name FROM people WHERE sub <> ?"
		}
		cfg.Claims = map[string]string{"name": "full_name"}
		cfg.JSONColumns = nil
		src := newSource(t, cfg)
		if got, err := src.Claims(t.Context(), request("nobody", "name")); err == nil {
			t.Errorf("Claims with two rows = %v, want an error", got)
		}
	})
}

func TestInitChecksColumns(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		cfg := b.cfg
		cfg.Claims = map[string]string{"name": "full_name", "email": "no_such_column"}
		cfg.JSONColumns = nil
		src, err := sqlclaims.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		err = src.Init(t.Context(), plugin.Env{})
		if err == nil || !strings.Contains(err.Error(), "no_such_column") {
			t.Errorf("Init = %v, want an error naming no_such_column", err)
		}
	})
}

func TestInitRefusesBrokenQuery(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		cfg := b.cfg
		cfg.Query = strings.Replace(cfg.Query, "FROM people", "FROM no_such_table", 1)
		src, err := sqlclaims.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		if err := src.Init(t.Context(), plugin.Env{}); err == nil {
			t.Error("Init with an unknown table succeeded")
		}
	})
}

// TestSlowQueryHitsTimeout: a lookup slower than the source's timeout
// fails with context.DeadlineExceeded instead of holding the request.
func TestSlowQueryHitsTimeout(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		cfg := b.cfg
		cfg.Claims = map[string]string{"name": "full_name"}
		cfg.JSONColumns = nil
		cfg.Timeout = 200 * time.Millisecond
		if b.driver == "postgres" {
			cfg.Query = "SELECT full_name FROM people, pg_sleep(30) WHERE sub = $1"
		} else {
			cfg.Query = "SELECT full_name FROM people WHERE sub = ? AND SLEEP(30) = 0"
		}
		src := newSource(t, cfg)
		_, err := src.Claims(t.Context(), request("u-1", "name"))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Claims = %v, want context.DeadlineExceeded", err)
		}
	})
}

// TestUnreachableDatabase: a source whose database is down still starts
// (so the server can serve without its claims); lookups and readiness fail.
func TestUnreachableDatabase(t *testing.T) {
	for _, cfg := range []sqlclaims.Config{
		{Driver: "postgres", DSN: "postgres://nobody@127.0.0.1:1/none?sslmode=disable", Query: "SELECT mail FROM people WHERE sub = $1"},
		{Driver: "mysql", DSN: "nobody@tcp(127.0.0.1:1)/none", Query: "SELECT mail FROM people WHERE sub = ?"},
	} {
		t.Run(cfg.Driver, func(t *testing.T) {
			cfg.Claims = map[string]string{"email": "mail"}
			src := newSource(t, cfg)
			if _, err := src.Claims(t.Context(), request("u-1", "email")); err == nil {
				t.Error("Claims against a stopped database succeeded")
			}
			if err := src.Healthy(t.Context()); err == nil {
				t.Error("Healthy against a stopped database succeeded")
			}
		})
	}
}

func TestDSNFile(t *testing.T) {
	b := postgresBackend(t)
	path := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(path, []byte(b.dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := b.cfg
	cfg.DSN, cfg.DSNFile = "", path
	src := newSource(t, cfg)
	got, err := src.Claims(t.Context(), request("u-1", "email"))
	if err != nil || got["email"] != "carol@example.com" {
		t.Errorf("Claims = %v, %v", got, err)
	}
}

func TestNewValidation(t *testing.T) {
	base := sqlclaims.Config{Driver: "postgres", DSN: "postgres://x:secretpw@127.0.0.1/db", Query: "SELECT mail FROM people WHERE sub = $1", Claims: map[string]string{"email": "mail"}}
	tests := []struct {
		name string
		edit func(c *sqlclaims.Config)
		want string
	}{
		{"no driver", func(c *sqlclaims.Config) { c.Driver = "" }, "driver is required"},
		{"bad driver", func(c *sqlclaims.Config) { c.Driver = "sqlite" }, "must be postgres or mysql"},
		{"no dsn", func(c *sqlclaims.Config) { c.DSN = "" }, "dsn or dsn_file is required"},
		{"both dsn", func(c *sqlclaims.Config) { c.DSNFile = "/x" }, "not both"},
		{"missing dsn file", func(c *sqlclaims.Config) { c.DSN, c.DSNFile = "", "/nonexistent/dsn" }, "dsn_file"},
		{"bad pg dsn", func(c *sqlclaims.Config) { c.DSN = "postgres://x:secretpw@[::1" }, "not a valid PostgreSQL DSN"},
		{"interpolate", func(c *sqlclaims.Config) {
			c.Driver, c.DSN, c.Query = "mysql", "u:secretpw@tcp(127.0.0.1:3306)/db?interpolateParams=true", "SELECT mail FROM people WHERE sub = ?"
		}, "interpolateParams"},
		{"multi statements", func(c *sqlclaims.Config) {
			c.Driver, c.DSN, c.Query = "mysql", "u:secretpw@tcp(127.0.0.1:3306)/db?multiStatements=true", "SELECT mail FROM people WHERE sub = ?"
		}, "multiStatements"},
		{"no placeholder", func(c *sqlclaims.Config) { c.Query = "SELECT mail FROM people WHERE sub = 'u-1'" }, "no $1"},
		{"two params", func(c *sqlclaims.Config) { c.Query = "SELECT mail FROM people WHERE sub = $1 AND x = $2" }, "$2"},
		{"mysql two ?", func(c *sqlclaims.Config) {
			c.Driver, c.DSN, c.Query = "mysql", "u@tcp(127.0.0.1:3306)/db", "SELECT mail FROM people WHERE sub = ? OR uid = ?"
		}, "2 ? placeholders"},
		{"mysql $1", func(c *sqlclaims.Config) {
			c.Driver, c.DSN = "mysql", "u@tcp(127.0.0.1:3306)/db"
		}, "0 ? placeholders"},
		{"not select", func(c *sqlclaims.Config) { c.Query = "DELETE FROM people WHERE sub = $1" }, "SELECT"},
		{"two statements", func(c *sqlclaims.Config) { c.Query = "SELECT mail FROM people WHERE sub = $1; DROP TABLE people" }, "single statement"},
		{"no claims", func(c *sqlclaims.Config) { c.Claims = nil }, "at least one claim"},
		{"sub claim", func(c *sqlclaims.Config) { c.Claims = map[string]string{"sub": "mail"} }, "sub"},
		{"empty column", func(c *sqlclaims.Config) { c.Claims = map[string]string{"email": " "} }, "no column"},
		{"pattern claim", func(c *sqlclaims.Config) { c.Claims = map[string]string{"e*": "mail"} }, "invalid claim name"},
		{"json column unmapped", func(c *sqlclaims.Config) { c.JSONColumns = []string{"addr"} }, "json_columns"},
		{"negative timeout", func(c *sqlclaims.Config) { c.Timeout = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.edit(&cfg)
			_, err := sqlclaims.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: err = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error %q reveals the DSN password", err)
			}
		})
	}
}

func TestSupportedClaims(t *testing.T) {
	src, err := sqlclaims.New(sqlclaims.Config{Driver: "postgres", DSN: "postgres://x@127.0.0.1/db",
		Query: "SELECT a, b, c FROM t WHERE sub = $1", Claims: map[string]string{"name": "a", "name#de": "b", "email": "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"email", "name"}, src.SupportedClaims()); diff != "" {
		t.Errorf("SupportedClaims (-want +got):\n%s", diff)
	}
}
