package jsoncheck

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	atBound := strings.Repeat(`{"a":`, 31) + "[]" + strings.Repeat("}", 31)
	for _, tc := range []struct {
		name, doc string
		want      string // "" ok, "syntax", or the *Error text
	}{
		{"object", `{"a":1,"b":[1,2,{"c":null}],"d":{"e":"f"}}`, ""},
		{"scalar", `"x"`, ""},
		{"same name in sibling objects", `[{"a":1},{"a":2}]`, ""},
		{"same name nested", `{"a":{"a":1}}`, ""},
		{"depth at the bound", atBound, ""},
		{"duplicate", `{"a":1,"a":2}`, `duplicate member "a" at /a`},
		{"duplicate nested", `{"x":[0,{"k":1,"k":1}]}`, `duplicate member "k" at /x/1/k`},
		{"duplicate escaped the same", `{"a":1,"\u0061":2}`, `duplicate member "a" at /a`},
		{"duplicate with a slash", `{"o":{"a/b":1,"a/b":2}}`, `duplicate member "a/b" at /o/a~1b`},
		{"too deep", deep, "nested deeper than 32 levels"},
		{"too many", "[" + strings.Repeat("0,", 10000) + "0]", "more than 10000 members and elements"},
		{"large number within range", `{"n":1.7976931348623157e308,"m":-1e-400}`, ""},
		{"number out of range", `{"a":[1,1e309]}`, "number out of range at /a/1"},
		{"long integer out of range", `{"a":` + strings.Repeat("8", 310) + `}`, "number out of range at /a"},
		{"top-level number out of range", `-1e400`, "number out of range"},
		{"empty", ``, "syntax"},
		{"malformed", `{"a":}`, "syntax"},
		{"unterminated", `{"a":[1`, "syntax"},
		{"trailing", `{} {}`, "syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.doc), Limits{})
			var ce *Error
			switch {
			case tc.want == "":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case tc.want == "syntax":
				if !errors.Is(err, ErrSyntax) {
					t.Fatalf("err = %v, want ErrSyntax", err)
				}
			case !errors.As(err, &ce) || !strings.HasPrefix(ce.Error(), tc.want):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzCheck: Check never panics, and whatever it accepts encoding/json
// accepts too, with no duplicate member (re-encoding keeps every member).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `[[[]]]`, `{"a":{"b":[1,{"c":2}]}}`, `"\u0000"`, `{"a":1,"\u0061":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data, Limits{MaxDepth: 8, MaxValues: 100})
		if err != nil {
			return
		}
		var v any
		if jerr := json.Unmarshal(data, &v); jerr != nil {
			t.Fatalf("Check accepted %q, encoding/json refuses it: %v", data, jerr)
		}
		if countMembers(v) != countRawMembers(t, data) {
			t.Fatalf("Check accepted %q with a duplicate member", data)
		}
	})
}

func countMembers(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		n += len(x)
		for _, e := range x {
			n += countMembers(e)
		}
	case []any:
		for _, e := range x {
			n += countMembers(e)
		}
	}
	return n
}

// countRawMembers counts member names as the token stream has them.
func countRawMembers(t *testing.T, data []byte) int {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	type fr struct{ object, expect bool }
	var st []*fr
	n := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		var cur *fr
		if len(st) > 0 {
			cur = st[len(st)-1]
		}
		d, isD := tok.(json.Delim)
		if cur != nil && cur.object && cur.expect {
			if isD && d == '}' {
				st = st[:len(st)-1]
			} else {
				n++
				cur.expect = false
				continue
			}
		} else if isD && (d == '{' || d == '[') {
			st = append(st, &fr{object: d == '{', expect: d == '{'})
			continue
		} else if isD && d == ']' {
			st = st[:len(st)-1]
		}
		if len(st) > 0 && st[len(st)-1].object {
			st[len(st)-1].expect = true
		}
	}
}
