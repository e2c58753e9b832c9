// Package pgtest gives tests a fresh, empty PostgreSQL database.
//
// Tests name the server with KEYWARD_TEST_POSTGRES_DSN, an administrative
// DSN such as postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
// When it is unset the test is skipped, unless KEYWARD_TEST_REQUIRE_BACKENDS
// or CI is set, in which case it fails: a CI run must not pass by silently
// skipping a backend.
//
// It may be imported by tests only; it must not import any Keyward package
// beyond the standard library and pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the variable holding the administrative DSN.
const EnvDSN = "KEYWARD_TEST_POSTGRES_DSN"

// AdminDSN returns the administrative DSN, or skips (or fails, under CI)
// the test when it is unset.
func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != "" || os.Getenv("CI") != "" {
			t.Fatalf("%s is not set but backends are required", EnvDSN)
		}
		t.Skipf("%s not set; skipping PostgreSQL test", EnvDSN)
	}
	return dsn
}

// NewDatabase creates a database named keyward_test_<random> on the server
// of KEYWARD_TEST_POSTGRES_DSN, drops it (WITH (FORCE)) when the test
// ends, and returns a DSN for it. It skips or fails the test as AdminDSN.
func NewDatabase(t testing.TB) (dsn string) {
	t.Helper()
	admin := AdminDSN(t)
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvDSN)
	}
	name := "keyward_test_" + strings.ToLower(rand.Text())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to admin database: %v", err)
	}
	defer conn.Close(ctx)
	// name is generated here from [a-z2-7]: safe to splice in.
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
