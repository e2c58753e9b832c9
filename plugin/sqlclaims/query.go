package sqlclaims

import (
	"errors"
	"fmt"
	"strings"
)

// Drivers.
const (
	DriverPostgres = "postgres"
	DriverMySQL    = "mysql"
)

// checkQuery validates a configured query at start-up: one read-only
// statement (SELECT or WITH) whose only bind parameter is the subject —
// "$1" (used one or more times) for PostgreSQL, exactly one "?" for MySQL.
// Placeholders inside string literals, quoted identifiers and comments are
// not parameters and are skipped, as the servers do. A second statement
// (";" outside a literal) is refused: the query is data for the driver,
// never a script.
func checkQuery(driver, q string) error {
	trimmed := strings.TrimSpace(q)
	if trimmed == "" {
		return errors.New("query is required")
	}
	if first := strings.ToUpper(firstWord(trimmed)); first != "SELECT" && first != "WITH" {
		return fmt.Errorf("query must be a SELECT (or WITH … SELECT) statement, not %q", firstWord(trimmed))
	}
	params, err := scanParams(driver, trimmed)
	if err != nil {
		return err
	}
	switch driver {
	case DriverPostgres:
		if len(params) == 0 {
			return errors.New("query has no $1 placeholder for the subject")
		}
		for _, p := range params {
			if p != "$1" {
				return fmt.Errorf("query has placeholder %s; only $1 (the subject) is allowed", p)
			}
		}
	case DriverMySQL:
		if len(params) != 1 {
			return fmt.Errorf("query has %d ? placeholders; exactly one (the subject) is required", len(params))
		}
	}
	return nil
}

func firstWord(s string) string {
	end := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	})
	if end < 0 {
		return s
	}
	return s[:end]
}

// scanParams returns the bind parameters of q in order ("$1", "$2", "?"),
// skipping literals, quoted identifiers and comments. It refuses what it
// cannot scan safely: an unterminated literal or comment, a PostgreSQL
// dollar-quoted string, or a second statement.
func scanParams(driver, q string) ([]string, error) {
	var params []string
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || (c == '`' && driver == DriverMySQL):
			end, err := skipQuoted(driver, q, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '-' && i+1 < len(q) && q[i+1] == '-', c == '#' && driver == DriverMySQL:
			nl := strings.IndexByte(q[i:], '\n')
			if nl < 0 {
				return params, nil
			}
			i += nl
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, errors.New("query has an unterminated /* comment")
			}
			i += 2 + end + 1
		case c == ';':
			if strings.TrimSpace(q[i+1:]) != "" {
				return nil, errors.New("query must be a single statement")
			}
			return params, nil
		case c == '$' && driver == DriverPostgres:
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				params = append(params, q[i:j])
				i = j - 1
				continue
			}
			// "$tag$" or "$$" opens a dollar-quoted string (PostgreSQL
			// §4.1.2.4); refuse rather than mis-scan it.
			if i > 0 && isIdentChar(q[i-1]) {
				continue // "$" inside an identifier such as a$b
			}
			return nil, errors.New("query uses a dollar-quoted string; use a standard 'literal'")
		case c == '?' && driver == DriverMySQL:
			params = append(params, "?")
		}
	}
	return params, nil
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// skipQuoted returns the index of the quote closing the literal or quoted
// identifier opening at q[start]. A doubled quote is an escaped quote in
// both dialects; MySQL also takes a backslash escape in strings.
func skipQuoted(driver, q string, start int) (int, error) {
	quote := q[start]
	for i := start + 1; i < len(q); i++ {
		switch {
		case q[i] == '\\' && driver == DriverMySQL && quote != '`':
			i++
		case q[i] == '\\' && driver == DriverPostgres && quote == '\'' && start > 0 && (q[start-1] == 'E' || q[start-1] == 'e'):
			i++ // E'…' escape string
		case q[i] == quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i, nil
		}
	}
	return 0, fmt.Errorf("query has an unterminated %c quote", quote)
}
