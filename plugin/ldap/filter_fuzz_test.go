package ldap

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// FuzzSubjectFilter: whatever the subject, the built filter is one valid
// filter (RFC 4515) whose assertion value is exactly the subject, so that
// no subject can widen or restructure the search.
func FuzzSubjectFilter(f *testing.F) {
	for _, s := range []string{"alice", "*", "*)(uid=*", "a\x00b", `\2a`, "(|(uid=*))", "ü", "\xff"} {
		f.Add(s)
	}
	const tmpl = "(&(objectClass=person)(uid={sub}))"
	f.Fuzz(func(t *testing.T, sub string) {
		filter := subjectFilter(tmpl, SubPlaceholder, sub)
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter %q for subject %q does not compile: %v", filter, sub, err)
		}
		if len(p.Children) != 2 || p.Children[1].Tag != ldap.FilterEqualityMatch {
			t.Fatalf("filter %q for subject %q changed structure", filter, sub)
		}
		if got := p.Children[1].Children[1].Data.String(); got != sub {
			t.Fatalf("assertion value = %q, want the subject %q", got, sub)
		}
	})
}
