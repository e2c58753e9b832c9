package sqlclaims

import (
	"strings"
	"testing"
)

func TestCheckQuery(t *testing.T) {
	tests := []struct {
		driver, q string
		ok        bool
	}{
		{DriverPostgres, "SELECT mail FROM people WHERE sub = $1", true},
		{DriverPostgres, "select mail from people where sub = $1 or alt = $1", true},
		{DriverPostgres, "WITH p AS (SELECT * FROM people) SELECT mail FROM p WHERE sub = $1;", true},
		{DriverPostgres, "SELECT '$2' AS x, mail FROM people WHERE sub = $1", true},
		{DriverPostgres, `SELECT "a$2" FROM people WHERE sub = $1 -- $2`, true},
		{DriverPostgres, "SELECT mail /* $2 */ FROM people WHERE sub = $1", true},
		{DriverPostgres, "SELECT a$b FROM people WHERE sub = $1", true},
		{DriverPostgres, "SELECT mail FROM people WHERE sub = $1 AND x = $2", false},
		{DriverPostgres, "SELECT mail FROM people WHERE sub = 'x'", false},
		{DriverPostgres, "SELECT $$ $1 $$ FROM people WHERE sub = $1", false},
		{DriverPostgres, "SELECT 'unterminated FROM people WHERE sub = $1", false},
		{DriverPostgres, "SELECT mail FROM people WHERE sub = $1; DELETE FROM people", false},
		{DriverPostgres, "SELECT E'it\\'s $2' FROM people WHERE sub = $1", true},
		{DriverPostgres, "INSERT INTO x VALUES ($1)", false},
		{DriverPostgres, "", false},
		{DriverMySQL, "SELECT mail FROM people WHERE sub = ?", true},
		{DriverMySQL, "SELECT '?' AS q, `a?` FROM people WHERE sub = ? # ?", true},
		{DriverMySQL, "SELECT 'it\\'s ?' FROM people WHERE sub = ?", true},
		{DriverMySQL, "SELECT mail FROM people WHERE sub = ? OR uid = ?", false},
		{DriverMySQL, "SELECT mail FROM people WHERE sub = $1", false},
		{DriverMySQL, "SELECT mail FROM people WHERE sub = ? /* unterminated", false},
	}
	for _, tt := range tests {
		err := checkQuery(tt.driver, tt.q)
		if (err == nil) != tt.ok {
			t.Errorf("checkQuery(%s, %q) = %v, want ok=%v", tt.driver, tt.q, err, tt.ok)
		}
	}
}

// FuzzCheckQuery: the scanner never panics, and an accepted query has its
// bind parameter outside every literal it found.
func FuzzCheckQuery(f *testing.F) {
	f.Add("SELECT mail FROM people WHERE sub = $1", true)
	f.Add("SELECT '?' AS q, `a?` FROM people WHERE sub = ? # ?", false)
	f.Add("SELECT E'it\\'s $2' FROM people WHERE sub = $1 /* x */", true)
	f.Fuzz(func(t *testing.T, q string, pg bool) {
		driver := DriverMySQL
		if pg {
			driver = DriverPostgres
		}
		if err := checkQuery(driver, q); err == nil {
			if pg && !strings.Contains(q, "$1") {
				t.Fatalf("accepted %q without $1", q)
			}
			if !pg && !strings.Contains(q, "?") {
				t.Fatalf("accepted %q without ?", q)
			}
		}
	})
}
