package oauth

import (
	"slices"
	"strings"
)

// Scope is an ordered set of scope tokens (RFC 6749 §3.3). The zero value is
// the empty scope.
type Scope []string

// ParseScope splits a space-delimited scope string, dropping duplicates and
// empty tokens while keeping the first occurrence's order.
func ParseScope(s string) Scope {
	var out Scope
	for _, tok := range strings.Split(s, " ") {
		if tok != "" && !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// ValidScopeToken reports whether tok uses only the characters RFC 6749 §3.3
// allows: %x21 / %x23-5B / %x5D-7E.
func ValidScopeToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// String joins the scope with spaces.
func (s Scope) String() string { return strings.Join(s, " ") }

// Contains reports whether tok is in s.
func (s Scope) Contains(tok string) bool { return slices.Contains(s, tok) }

// Intersect returns the tokens of s that are also in other, in s's order.
func (s Scope) Intersect(other Scope) Scope {
	var out Scope
	for _, tok := range s {
		if other.Contains(tok) {
			out = append(out, tok)
		}
	}
	return out
}

// Minus returns the tokens of s that are not in other, in s's order.
func (s Scope) Minus(other Scope) Scope {
	var out Scope
	for _, tok := range s {
		if !other.Contains(tok) {
			out = append(out, tok)
		}
	}
	return out
}

// Union returns s followed by the tokens of other not already in s.
func (s Scope) Union(other Scope) Scope {
	out := slices.Clone(s)
	for _, tok := range other {
		if !out.Contains(tok) {
			out = append(out, tok)
		}
	}
	return out
}

// SubsetOf reports whether every token of s is in other.
func (s Scope) SubsetOf(other Scope) bool {
	for _, tok := range s {
		if !other.Contains(tok) {
			return false
		}
	}
	return true
}
