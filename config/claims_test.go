package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadYAML(t *testing.T, yaml string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(Sources{File: path})
}

func TestClaimsSourcesSQLAndSession(t *testing.T) {
	cfg, err := loadYAML(t, `
claims:
  sources:
    - type: users
    - type: sql
      driver: postgres
      dsn: postgres://claims:pw@db.internal/hr
      query: "SELECT mail, full_name, addr FROM people WHERE uid = $1"
      claims: { email: mail, name: full_name, address: addr }
      json_columns: [addr]
      max_open_conns: 8
      timeout: 1500ms
      on_error: fail
    - type: session
      supported_claims: [login_ip]
`)
	if err != nil {
		t.Fatal(err)
	}
	sql := cfg.Claims.Sources[1]
	want := ClaimsSource{Type: "sql", Driver: "postgres", DSN: "postgres://claims:pw@db.internal/hr",
		Query:  "SELECT mail, full_name, addr FROM people WHERE uid = $1",
		Claims: map[string]string{"email": "mail", "name": "full_name", "address": "addr"}, JSONColumns: []string{"addr"},
		MaxOpenConns: 8, Timeout: 1500 * 1e6, OnError: "fail"}
	if diff := cmp.Diff(want, sql); diff != "" {
		t.Errorf("sql source (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"login_ip"}, cfg.Claims.Sources[2].SupportedClaims); diff != "" {
		t.Errorf("session supported_claims (-want +got):\n%s", diff)
	}
}

func TestClaimsSourcesRejected(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"sql without driver", `{type: sql, dsn: "x", query: "SELECT a FROM t WHERE s = $1", claims: {email: a}}`, "driver"},
		{"sql dsn and dsn_file", `{type: sql, driver: postgres, dsn: x, dsn_file: /x, query: "SELECT a FROM t WHERE s = $1", claims: {email: a}}`, "exactly one of dsn and dsn_file"},
		{"sql no query", `{type: sql, driver: mysql, dsn: x, claims: {email: a}}`, "query is required"},
		{"sql no claims", `{type: sql, driver: mysql, dsn: x, query: "SELECT a FROM t WHERE s = ?"}`, "at least one claim"},
		{"session without claims", `{type: session}`, "supported_claims"},
		{"bad on_error", `{type: users, on_error: ignore}`, "on_error"},
		{"sql key on webhook", `{type: webhook, url: "https://h.example/c", supported_claims: [x], query: "SELECT 1"}`, "query does not apply to type webhook"},
		{"url on sql", `{type: sql, driver: mysql, dsn: x, query: "SELECT a FROM t WHERE s = ?", claims: {email: a}, url: "https://x"}`, "url does not apply to type sql"},
		{"dsn on session", `{type: session, supported_claims: [x], dsn: y}`, "dsn does not apply"},
		{"unknown key", `{type: sql, driver: mysql, dsn: x, query: "SELECT a FROM t WHERE s = ?", claims: {email: a}, pool: 3}`, "pool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadYAML(t, "claims:\n  sources:\n    - "+tt.yaml+"\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
