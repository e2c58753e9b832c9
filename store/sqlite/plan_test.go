package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// Every lookup and purge predicate must be served by an index; a full scan
// of a token table is what makes purges lock a busy database.
func TestQueriesUseIndexes(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`SELECT rowid FROM grants WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM refresh_tokens WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM access_tokens WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM authz_sessions WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM subject_sessions WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM codes WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM pushed_requests WHERE expires_at <= 1 LIMIT 10`,
		`SELECT rowid FROM replay_cache WHERE expires_at <= 1 LIMIT 10`,
		`SELECT body FROM grants WHERE subject = 'a' ORDER BY created_at DESC`,
		`SELECT body FROM grants WHERE client_id = 'c' ORDER BY created_at DESC`,
		`SELECT body FROM authorizations WHERE client_id = 'c'`,
		`SELECT body FROM authorizations WHERE subject = 's'`,
		`SELECT DISTINCT subject FROM authorizations WHERE subject > 's' ORDER BY subject LIMIT 10`,
		`SELECT DISTINCT client_id FROM authorizations WHERE client_id > 'c' ORDER BY client_id LIMIT 10`,
		`SELECT id FROM refresh_tokens WHERE grant_id = 'g'`,
		`SELECT id FROM access_tokens WHERE grant_id = 'g'`,
		`SELECT body FROM subject_sessions WHERE subject = 's' ORDER BY created_at`,
		`SELECT id FROM signing_keys WHERE alg = 'RS256' AND retired_at IS NULL`,
	} {
		rows, err := db.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "; ")
		if !strings.Contains(p, "USING INDEX") && !strings.Contains(p, "USING COVERING INDEX") && !strings.Contains(p, "PRIMARY KEY") {
			t.Errorf("%s\n\tplan without an index: %s", q, p)
		}
	}
}
