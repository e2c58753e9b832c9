package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
)

// hashOnce is computed once per test binary: argon2id at login-grade
// parameters costs tens of milliseconds.
var hashOnce = sync.OnceValues(func() (string, error) { return HashPassword("s3cret-pw") })

func testHash(t *testing.T) string {
	t.Helper()
	h, err := hashOnce()
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	return h
}

func TestVerifyPassword(t *testing.T) {
	argon := testHash(t)
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcY := "$2y$" + strings.TrimPrefix(string(bc), "$2a$")
	long := strings.Repeat("x", 100)
	bcLong, err := bcrypt.GenerateFromPassword([]byte(long[:72]), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		want                 bool
		wantErr              bool
	}{
		{name: "argon2id match", hash: argon, password: "s3cret-pw", want: true},
		{name: "argon2id mismatch", hash: argon, password: "s3cret-pW"},
		{name: "argon2id empty password", hash: argon, password: ""},
		{name: "bcrypt 2a match", hash: string(bc), password: "s3cret-pw", want: true},
		{name: "bcrypt 2y match", hash: bcY, password: "s3cret-pw", want: true},
		{name: "bcrypt mismatch", hash: string(bc), password: "nope"},
		// bcrypt would silently truncate; we refuse instead of matching.
		{name: "bcrypt over 72 bytes never matches", hash: string(bcLong), password: long},
		{name: "plain text", hash: "s3cret-pw", password: "s3cret-pw", wantErr: true},
		{name: "unknown scheme", hash: "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantErr: true},
		{name: "truncated argon2id", hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", password: "x", wantErr: true},
		{name: "argon2id huge memory", hash: "$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantErr: true},
		{name: "argon2id zero time", hash: "$argon2id$v=19$m=19456,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantErr: true},
		{name: "argon2id wrong version", hash: "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", password: "x", wantErr: true},
		{name: "malformed bcrypt", hash: "$2b$10$short", password: "x", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyPassword(tc.hash, tc.password)
			if (err != nil) != tc.wantErr {
				t.Fatalf("VerifyPassword error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("VerifyPassword = %v, want %v", got, tc.want)
			}
			if err != nil && tc.password != "" && strings.Contains(err.Error(), tc.hash) {
				t.Errorf("error %q repeats the hash", err)
			}
		})
	}
}

func TestHashPasswordFormat(t *testing.T) {
	h := testHash(t)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("HashPassword = %q, want PHC argon2id with OWASP parameters", h)
	}
	h2, err := HashPassword("s3cret-pw")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Error("two hashes of one password are equal: salt is not random")
	}
}

func TestDummyHashIsValid(t *testing.T) {
	if err := checkHash(dummyHash); err != nil {
		t.Fatalf("dummyHash does not parse, so unknown users would be fast: %v", err)
	}
	p, _ := parseArgon(dummyHash)
	if p.memory != argonMemoryKiB || p.time != argonTime || p.threads != argonThreads {
		t.Errorf("dummyHash parameters %+v differ from HashPassword's", p)
	}
}

func TestParseErrors(t *testing.T) {
	const plain = "hunter2-plaintext"
	tests := []struct {
		name    string
		data    string
		wantSub []string // substrings the error must contain
	}{
		{name: "not json or yaml", data: "{", wantSub: []string{"parse users"}},
		{name: "plain text password", data: `{"users":[{"sub":"a","username":"ann","password":"` + plain + `"}]}`, wantSub: []string{"user #0", `"ann"`, "plain-text"}},
		{name: "empty sub", data: `{"users":[{"sub":"a","username":"ann"},{"sub":"","username":"bo"}]}`, wantSub: []string{"user #1", `"bo"`, "empty sub"}},
		{name: "duplicate sub", data: `{"users":[{"sub":"a","username":"ann"},{"sub":"a","username":"bo"}]}`, wantSub: []string{"user #1", "duplicate sub"}},
		{name: "duplicate username", data: `{"users":[{"sub":"a","username":"ann"},{"sub":"b","username":"ann"}]}`, wantSub: []string{"user #1", `"ann"`, "duplicate username"}},
		{name: "password without username", data: `{"users":[{"sub":"a","password":"$2b$10$abcdefghijklmnopqrstuu5Zk9Hh2z1cT6uJ8p3ZQk7c6lGm9n5G"}]}`, wantSub: []string{"user #0", "needs a username"}},
		{name: "sub in claims", data: `{"users":[{"sub":"a","claims":{"sub":"b"}}]}`, wantSub: []string{"user #0", "sub"}},
		{name: "unknown field", data: `{"users":[{"sub":"a","passwd":"x"}]}`, wantSub: []string{"passwd"}},
		{name: "trailing data", data: `{"users":[]} {}`, wantSub: []string{"trailing"}},
		{name: "yaml plain text password", data: "users:\n  - sub: a\n    username: ann\n    password: " + plain + "\n", wantSub: []string{"user #0", "plain-text"}},
		{name: "tag case clash", data: `{"users":[{"sub":"a","claims":{"name#de":"x","name#DE":"y"}}]}`, wantSub: []string{"tag case"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.data))
			if err == nil {
				t.Fatalf("Parse succeeded with %d users, want error", d.Len())
			}
			for _, s := range tc.wantSub {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), plain) {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestParseYAMLEqualsJSON(t *testing.T) {
	h := testHash(t)
	js := `{"users":[{"sub":"s-1","username":"ann","password":"` + h + `",
	  "claims":{"name":"Ann","updated_at":1700000000,"email_verified":true,"address":{"country":"NL"},"groups":["a","b"]}}]}`
	ym := "users:\n- sub: s-1\n  username: ann\n  password: '" + h + "'\n  claims:\n    name: Ann\n    updated_at: 1700000000\n    email_verified: true\n    address: {country: NL}\n    groups: [a, b]\n"
	req := plugin.ClaimsRequest{Subject: "s-1", Claims: []string{"name", "updated_at", "email_verified", "address", "groups"}}
	var got []map[string]any
	for _, data := range []string{js, ym} {
		d, err := Parse([]byte(data))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		c, err := d.Claims(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	if diff := cmp.Diff(got[0], got[1]); diff != "" {
		t.Errorf("JSON vs YAML claims (-json +yaml):\n%s", diff)
	}
	if _, ok := got[1]["updated_at"].(float64); !ok {
		t.Errorf("YAML number decoded as %T, want float64 like JSON", got[1]["updated_at"])
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte("users:\n  - sub: a\n    username: ann\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, ok := d.Lookup("ann"); !ok {
		t.Error("Lookup(ann) after Load: not found")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestAuthenticate(t *testing.T) {
	h := testHash(t)
	d, err := New([]User{
		{Sub: "s-ann", Username: "ann", Password: h},
		{Sub: "s-nopw", Username: "nopw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, username, password string
		wantSub                  string
		wantErr                  error
	}{
		{name: "ok", username: "ann", password: "s3cret-pw", wantSub: "s-ann"},
		{name: "wrong password", username: "ann", password: "s3cret", wantErr: ErrInvalidCredentials},
		{name: "unknown user", username: "zed", password: "s3cret-pw", wantErr: ErrInvalidCredentials},
		{name: "user without password", username: "nopw", password: "", wantErr: ErrInvalidCredentials},
		{name: "sub is not a username", username: "s-ann", password: "s3cret-pw", wantErr: ErrInvalidCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := d.Authenticate(t.Context(), tc.username, tc.password)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Authenticate err = %v, want %v", err, tc.wantErr)
			}
			if sub != tc.wantSub {
				t.Errorf("Authenticate sub = %q, want %q", sub, tc.wantSub)
			}
		})
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	d, err := New([]User{{Sub: "a", Username: "ann", Claims: map[string]any{"address": map[string]any{"country": "NL"}}}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := d.Lookup("ann")
	u.Claims["address"].(map[string]any)["country"] = "XX"
	u2, _ := d.Lookup("ann")
	if got := u2.Claims["address"].(map[string]any)["country"]; got != "NL" {
		t.Errorf("country after mutating a Lookup result = %v, want NL", got)
	}
}

func TestClaimsTagCaseInsensitive(t *testing.T) {
	d, err := New([]User{{Sub: "a", Claims: map[string]any{"name#de-CH": "Anna"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Claims(t.Context(), plugin.ClaimsRequest{Subject: "a", Claims: []string{"name#de-ch", "name"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"name#de-ch": "Anna"}, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestDemo(t *testing.T) {
	d, err := Demo()
	if err != nil {
		t.Fatalf("Demo: %v", err)
	}
	for _, c := range []struct{ user, pw string }{{"alice", "alice-password"}, {"bob", "bob-password"}} {
		sub, err := d.Authenticate(t.Context(), c.user, c.pw)
		if err != nil || sub != c.user {
			t.Errorf("Authenticate(%s) = %q, %v", c.user, sub, err)
		}
	}
	got, err := d.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"email", "email_verified", "updated_at"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"email": "alice@example.com", "email_verified": true, "updated_at": float64(1735689600)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alice claims (-want +got):\n%s", diff)
	}
}

// contractUsersJSON holds plugintest.SampleClaimsFixture's subject as a
// users file, so the contract also covers the file decoder.
const contractUsersJSON = `{"users":[
  {"sub":"u-1","username":"carol","claims":{
    "name":"Carol Chen","name#de":"Carola Chen","email":"carol@example.com","email_verified":true,
    "updated_at":1700000000,"address":{"country":"NL","locality":"Delft"},"groups":["admins","staff"]}},
  {"sub":"u-2","username":"dan","claims":{"name":"Dan"}}
]}`

func TestContract(t *testing.T) {
	d, err := Parse([]byte(contractUsersJSON))
	if err != nil {
		t.Fatal(err)
	}
	plugintest.ClaimsSource(t, d, plugintest.SampleClaimsFixture())
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(contractUsersJSON))
	f.Add([]byte("users:\n  - sub: a\n    username: ann\n    password: $2b$10$x\n"))
	f.Add([]byte(`{"users":[{"sub":"a","password":"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}`))
	f.Add([]byte(`{"users":[{"sub":"a","claims":{"name#":1}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			return
		}
		// A parsed directory must answer without panicking.
		for sub := range d.cur.Load().bySub {
			if _, err := d.Claims(t.Context(), plugin.ClaimsRequest{Subject: sub, Claims: []string{"name", "name#de", "sub"}}); err != nil {
				t.Fatalf("Claims: %v", err)
			}
		}
	})
}

func TestFactory(t *testing.T) {
	var _ plugin.Factory = Factory
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(`{"users":[{"sub":"a","username":"ann"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := Factory([]byte(`{"file":"` + path + `"}`))
	if err != nil {
		t.Fatalf("Factory: %v", err)
	}
	if d, ok := v.(*Directory); !ok || d.Len() != 1 {
		t.Fatalf("Factory returned %#v", v)
	}
	for _, raw := range []string{`{}`, `{"path":"x"}`, `nope`} {
		if _, err := Factory([]byte(raw)); err == nil {
			t.Errorf("Factory(%s) succeeded, want error", raw)
		}
	}
}
