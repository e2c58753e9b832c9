package oauth

import (
	"encoding/json"
	"testing"
)

// FuzzParseAuthorizationDetails: any input is parsed or refused with an
// *Error, never a panic, and what is accepted is canonical: parsing its
// encoding again yields the same elements.
func FuzzParseAuthorizationDetails(f *testing.F) {
	for _, s := range []string{`[{"type":"a"}]`, `[{"type":"a","actions":["x"],"identifier":"i"}]`, `[]`, `{}`, `[1]`, `[{"type":1}]`, `null`} {
		f.Add(s)
	}
	allowed := []string{"a", "b"}
	f.Fuzz(func(t *testing.T, raw string) {
		d, err := ParseAuthorizationDetails(raw, allowed)
		if err != nil {
			if AsError(err) == nil {
				t.Fatalf("non-OAuth error %v", err)
			}
			return
		}
		b, _ := json.Marshal(d)
		again, err := ParseAuthorizationDetails(string(b), allowed)
		if err != nil || len(again) != len(d) {
			t.Fatalf("re-parse of %s: %v", b, err)
		}
		for i := range d {
			if !again.Contains(d[i]) {
				t.Fatalf("element %s not canonical", d[i])
			}
		}
	})
}
