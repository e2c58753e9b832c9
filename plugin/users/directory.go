package users

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/plugin"
)

// ErrInvalidCredentials is returned by Authenticate for an unknown user, a
// wrong password, or a user without a password. The three are deliberately
// indistinguishable. It is plugin.ErrInvalidCredentials.
var ErrInvalidCredentials = plugin.ErrInvalidCredentials

// dummyHash is verified when the user does not exist or has no password, so
// that Authenticate costs about the same either way and its timing does not
// reveal which usernames exist. Same parameters as HashPassword; the
// password it hashes is irrelevant.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$a2V5d2FyZC1kdW1teS1zYWx0$q4xQ0FyV3dwKf6kM7b6nPpS7gR7r8a1m3GQ8l2m2d4c"

// User is one entry of the users file.
type User struct {
	// Sub is the stable subject identifier (OIDC Core §2); required, unique.
	Sub string `json:"sub"`
	// Username is the login name; unique when set, required with Password.
	Username string `json:"username,omitempty"`
	// Password is a PHC argon2id or bcrypt hash, or empty for a user who
	// never logs in with a password.
	Password string `json:"password,omitempty"`
	// Claims are the user's OpenID claims as JSON values; names may carry a
	// language tag ("name#de"). "sub" is not allowed here.
	Claims map[string]any `json:"claims,omitempty"`
}

type file struct {
	Users []User `json:"users"`
}

// Directory is a validated set of users. It implements
// plugin.ClaimsSource and plugin.ClaimsSupporter and is safe for concurrent
// use. Its set only changes as a whole, by Replace (a SIGHUP reload of the
// users file).
type Directory struct {
	cur atomic.Pointer[dirData]
}

// dirData is one immutable set of users.
type dirData struct {
	bySub      map[string]*User
	byUsername map[string]*User
	// tagged maps a claim name with its language tag lower-cased to the
	// name as written in the file, per subject (RFC 5646 tags are
	// case-insensitive).
	tagged map[string]map[string]string
}

var (
	_ plugin.ClaimsSource    = (*Directory)(nil)
	_ plugin.ClaimsSupporter = (*Directory)(nil)
)

// Load reads and parses a users file (JSON, or YAML).
func Load(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read users file: %w", err)
	}
	d, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	return d, nil
}

// Parse decodes a users file: a JSON object {"users":[…]}, or the same in
// YAML. Unknown fields are errors, so that a misspelt "password" key is not
// silently a user who cannot log in. Validation errors name the user by
// index and username and never include a password.
func Parse(data []byte) (*Directory, error) {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("{")) {
		// YAML: decode generically, then re-encode as JSON so both formats
		// share one strict decoder and claims get JSON value types.
		var doc any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("parse YAML: %w", err)
		}
		var err error
		if trimmed, err = json.Marshal(doc); err != nil {
			return nil, fmt.Errorf("convert YAML: %w", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse users: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse users: trailing data after the JSON object")
	}
	return New(f.Users)
}

// New validates users and builds a Directory. Claims are copied through a
// JSON round trip, so later changes to the arguments do not affect the
// Directory and values have the types a JSON decoder produces.
func New(users []User) (*Directory, error) {
	d := &dirData{
		bySub:      make(map[string]*User, len(users)),
		byUsername: make(map[string]*User, len(users)),
		tagged:     make(map[string]map[string]string, len(users)),
	}
	for i, u := range users {
		who := fmt.Sprintf("user #%d (username %q)", i, u.Username)
		if u.Sub == "" {
			return nil, fmt.Errorf("%s: empty sub", who)
		}
		if _, dup := d.bySub[u.Sub]; dup {
			return nil, fmt.Errorf("%s: duplicate sub %q", who, u.Sub)
		}
		if u.Username != "" {
			if _, dup := d.byUsername[u.Username]; dup {
				return nil, fmt.Errorf("%s: duplicate username", who)
			}
		}
		if u.Password != "" {
			if u.Username == "" {
				return nil, fmt.Errorf("%s: a password needs a username to log in with", who)
			}
			if err := checkHash(u.Password); err != nil {
				return nil, fmt.Errorf("%s: %w", who, err)
			}
		}
		claims, err := copyClaims(u.Claims)
		if err != nil {
			return nil, fmt.Errorf("%s: claims: %w", who, err)
		}
		tagged := map[string]string{}
		for name := range claims {
			if name == "" || name == "sub" {
				return nil, fmt.Errorf("%s: claim name %q is not allowed (sub is set from the sub field)", who, name)
			}
			if base, tag, ok := strings.Cut(name, "#"); ok {
				if base == "" || tag == "" {
					return nil, fmt.Errorf("%s: malformed language-tagged claim name %q", who, name)
				}
				key := base + "#" + strings.ToLower(tag)
				if other, dup := tagged[key]; dup {
					return nil, fmt.Errorf("%s: claims %q and %q differ only in tag case", who, other, name)
				}
				tagged[key] = name
			}
		}
		u.Claims = claims
		d.bySub[u.Sub] = &u
		if u.Username != "" {
			d.byUsername[u.Username] = &u
		}
		d.tagged[u.Sub] = tagged
	}
	dir := &Directory{}
	dir.cur.Store(d)
	return dir, nil
}

// Replace makes d serve the users of other from now on; a request in
// flight finishes with the set it started with.
func (d *Directory) Replace(other *Directory) { d.cur.Store(other.cur.Load()) }

// copyClaims deep-copies claims through JSON.
func copyClaims(claims map[string]any) (map[string]any, error) {
	if len(claims) == 0 {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Lookup returns the user with the given username. The returned User's
// Claims map is a copy.
func (d *Directory) Lookup(username string) (User, bool) {
	u, ok := d.cur.Load().byUsername[username]
	if !ok {
		return User{}, false
	}
	c := *u
	c.Claims = make(map[string]any, len(u.Claims))
	for k, v := range u.Claims {
		c.Claims[k] = cloneValue(v)
	}
	return c, true
}

// Len returns the number of users.
func (d *Directory) Len() int { return len(d.cur.Load().bySub) }

// Authenticate checks a username and password and returns the user's
// subject. An unknown user, a wrong password and a user without a password
// all return ErrInvalidCredentials after comparable hashing work. A
// cancelled context is returned as its error before any work is done.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	u, ok := d.cur.Load().byUsername[username]
	if !ok || u.Password == "" {
		_, _ = VerifyPassword(dummyHash, password)
		return "", ErrInvalidCredentials
	}
	match, err := VerifyPassword(u.Password, password)
	if err != nil {
		// New validated the hash, so this is a programming error; still
		// never a panic, and never the hash or password in the message.
		return "", fmt.Errorf("authenticate: verify stored hash: %w", err)
	}
	if !match {
		return "", ErrInvalidCredentials
	}
	return u.Sub, nil
}

// SupportedClaims implements plugin.ClaimsSupporter: the file may hold any
// claim.
func (d *Directory) SupportedClaims() []string { return []string{"*"} }

// Claims implements plugin.ClaimsSource. It returns the requested claims the
// subject has, under the names requested; a language-tagged name ("name#de")
// matches the user's claim with that tag, tags compared case-insensitively
// (RFC 5646 §2.1.1). "sub" is never returned. An unknown subject yields an
// empty map. Returned values are copies.
func (d *Directory) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("users claims: %w", err)
	}
	out := map[string]any{}
	data := d.cur.Load()
	u, ok := data.bySub[req.Subject]
	if !ok {
		return out, nil
	}
	for _, name := range req.Claims {
		if name == "sub" {
			continue
		}
		key := name
		if base, tag, ok := strings.Cut(name, "#"); ok {
			stored, ok := data.tagged[u.Sub][base+"#"+strings.ToLower(tag)]
			if !ok {
				continue
			}
			key = stored
		}
		if v, ok := u.Claims[key]; ok {
			out[name] = cloneValue(v)
		}
	}
	return out, nil
}

// cloneValue deep-copies a JSON value so callers cannot change the
// directory through a returned object or array.
func cloneValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneValue(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = cloneValue(e)
		}
		return s
	default:
		return v
	}
}

// Subjects returns the subjects of the users, sorted.
func (d *Directory) Subjects() []string {
	return slices.Sorted(maps.Keys(d.cur.Load().bySub))
}
