package ldap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/testldap"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/ldap"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/simple"
	"github.com/keyward/keyward/plugin/users"
)

// mapping is the claim mapping of the tests over testdata/seed.ldif.
func mapping() map[string]string {
	return map[string]string{
		"name":                   "cn",
		"nickname":               "displayName",
		"given_name":             "givenName",
		"family_name":            "sn",
		"email":                  "mail",
		"emails":                 "mail[]",
		"email_verified":         "emailVerified",
		"phone_number":           "telephoneNumber",
		"address.street_address": "street",
		"address.locality":       "l",
		"address.region":         "st",
		"address.postal_code":    "postalCode",
		"address.formatted":      "postalAddress",
		"updated_at":             "modifyTimestamp",
		"groups":                 "ou[]",
		"middle_name":            "initials",
	}
}

func config(s *testldap.Server) ldap.Config {
	return ldap.Config{
		URL:          s.URL,
		BindDN:       testldap.BindDN,
		BindPassword: testldap.BindPassword,
		BaseDN:       testldap.PeopleDN,
		Filter:       "(&(objectClass=inetOrgPerson)(uid={sub}))",
		Claims:       mapping(),
	}
}

func start(t *testing.T, cfg ldap.Config) *ldap.Source {
	t.Helper()
	src, err := ldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Init(t.Context(), plugin.Env{Log: slog.New(slog.NewTextHandler(t.Output(), nil))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// alice is every mapped claim of uid=alice.
var alice = map[string]any{
	"name":           "Alice Adams",
	"name#de":        "Alice Adams (DE)",
	"nickname":       "Alice",
	"nickname#de":    "Alicia",
	"given_name":     "Alice",
	"family_name":    "Adams",
	"email":          "alice@example.org",
	"emails":         []any{"alice@example.org", "alice.adams@example.org"},
	"email_verified": true,
	"phone_number":   "+1 555 0100",
	"address": map[string]any{
		"street_address": "1 Main Street", "locality": "Springfield", "region": "IL", "postal_code": "62701",
	},
	"groups": []any{"engineering", "security"},
}

func claims(t *testing.T, src *ldap.Source, sub string, names ...string) map[string]any {
	t.Helper()
	got, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: sub, Claims: names})
	if err != nil {
		t.Fatalf("Claims(%q): %v", sub, err)
	}
	return got
}

func TestContract(t *testing.T) {
	s := testldap.Start(t)
	src := start(t, config(s))
	plugintest.ClaimsSource(t, src, plugintest.ClaimsFixture{
		Issuer:         "https://op.example.com",
		Subject:        "alice",
		Claims:         alice,
		TaggedClaim:    "name#de",
		MissingClaim:   "middle_name",
		UnknownSubject: "nobody",
	})
}

func TestMapping(t *testing.T) {
	s := testldap.Start(t)
	src := start(t, config(s))
	t.Run("language tags ignore case", func(t *testing.T) {
		got := claims(t, src, "alice", "name#DE", "nickname#de-CH", "name#")
		if diff := cmp.Diff(map[string]any{"name#DE": "Alice Adams (DE)"}, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("false boolean and single values", func(t *testing.T) {
		got := claims(t, src, "bob", "email_verified", "emails", "groups", "address", "name")
		want := map[string]any{"email_verified": false, "emails": []any{"bob@example.org"}, "name": "Bob Brown",
			"address": map[string]any{"formatted": "2 Side Street\nSpringfield, IL 62702\nUSA"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("updated_at from Generalized Time", func(t *testing.T) {
		got := claims(t, src, "bob", "updated_at")
		if at, ok := got["updated_at"].(int64); !ok || at < 1700000000 {
			t.Errorf("updated_at = %#v, want seconds since the epoch", got["updated_at"])
		}
	})
	t.Run("unmapped claims", func(t *testing.T) {
		if got := claims(t, src, "alice", "website", "sub", "employee"); len(got) != 0 {
			t.Errorf("claims = %v, want none", got)
		}
	})
	t.Run("supported claims", func(t *testing.T) {
		want := []string{"address", "email", "email_verified", "emails", "family_name", "given_name", "groups", "middle_name", "name", "nickname", "phone_number", "updated_at"}
		if diff := cmp.Diff(want, src.SupportedClaims()); diff != "" {
			t.Error(diff)
		}
	})
}

// TestFilterInjection: subjects and usernames are values, never filter
// syntax (RFC 4515 §3).
func TestFilterInjection(t *testing.T) {
	s := testldap.Start(t)
	cfg := config(s)
	cfg.PoolSize = 1
	src := start(t, cfg)
	for _, sub := range []string{"*", "*)(uid=*", "alice)(uid=*", "al*", "alice\x00", `alice\2a`, "*))(|(uid=*", "(uid=alice)"} {
		if got := claims(t, src, sub, "name", "email"); len(got) != 0 {
			t.Errorf("Claims(%q) = %v, want nothing", sub, got)
		}
		for _, pw := range []string{testldap.AlicePassword, testldap.BobPassword} {
			if sub, err := src.Authenticate(t.Context(), sub, pw); !errors.Is(err, plugin.ErrInvalidCredentials) {
				t.Errorf("Authenticate(%q) = %q, %v; want invalid credentials", sub, sub, err)
			}
		}
	}
}

func TestAuthenticate(t *testing.T) {
	s := testldap.Start(t)
	cfg := config(s)
	// One connection, so that every check reuses the one the user binds
	// on: the service identity must come back after each.
	cfg.PoolSize = 1
	src := start(t, cfg)
	for _, tc := range []struct {
		name, user, pass, sub string
	}{
		{"valid", "alice", testldap.AlicePassword, "alice"},
		{"valid bob", "bob", testldap.BobPassword, "bob"},
		{"wrong password", "alice", testldap.BobPassword, ""},
		{"unknown user", "nobody", testldap.AlicePassword, ""},
		{"empty password is not an unauthenticated bind", "alice", "", ""},
		{"user without password", "carol", "anything", ""},
		{"empty username", "", "anything", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := src.Authenticate(t.Context(), tc.user, tc.pass)
			if tc.sub == "" {
				if !errors.Is(err, plugin.ErrInvalidCredentials) || sub != "" {
					t.Fatalf("Authenticate = %q, %v; want invalid credentials", sub, err)
				}
			} else if err != nil || sub != tc.sub {
				t.Fatalf("Authenticate = %q, %v; want %q", sub, err, tc.sub)
			}
			// The pooled connection searches as the service account again
			// (anonymous and user binds may not read other entries).
			if got := claims(t, src, "carol", "name"); got["name"] != "Carol Clark" {
				t.Fatalf("claims after Authenticate = %v", got)
			}
		})
	}
	t.Run("login filter and subject attribute", func(t *testing.T) {
		cfg := config(s)
		cfg.LoginFilter = "(mail={username})"
		cfg.SubjectAttribute = "employeeNumber"
		src := start(t, cfg)
		sub, err := src.Authenticate(t.Context(), "bob@example.org", testldap.BobPassword)
		if err != nil || sub != "1002" {
			t.Fatalf("Authenticate = %q, %v; want 1002", sub, err)
		}
	})
}

func TestPasswordGrant(t *testing.T) {
	s := testldap.Start(t)
	src := start(t, config(s))
	tok := plugintest.SampleTokens()
	h, err := users.NewPasswordHandler(src, users.PasswordOptions{Tokens: simple.Tokens{
		Audience: tok.Audience, AccessTokenLifetime: tok.AccessToken.Lifetime, AccessTokenEncoding: tok.AccessToken.Encoding,
	}})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.PasswordHandler(t, h, plugintest.SamplePasswordCases(plugintest.PasswordFixture{
		Username: "bob", Password: testldap.BobPassword, Subject: "bob", UnknownUsername: "nobody",
	}))
	t.Run("throttled per username", func(t *testing.T) {
		h, err := users.NewPasswordHandler(src, users.PasswordOptions{MaxFailures: 3})
		if err != nil {
			t.Fatal(err)
		}
		req := plugin.PasswordRequest{Username: "alice", Password: "wrong",
			GrantRequest: plugin.GrantRequest{GrantType: oauth.GrantTypePassword, Client: plugintest.SampleClient()}}
		var wg sync.WaitGroup
		var mu sync.Mutex
		descs := map[string]int{}
		for range 10 {
			wg.Go(func() {
				_, err := h.HandlePassword(t.Context(), req)
				var oe *oauth.Error
				if !errors.As(err, &oe) || oe.Code != oauth.ErrCodeInvalidGrant {
					t.Errorf("err = %v, want invalid_grant", err)
					return
				}
				mu.Lock()
				descs[oe.Description]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if descs["invalid username or password"] != 3 || len(descs) != 2 {
			t.Errorf("answers = %v, want 3 password checks and 7 throttled", descs)
		}
		req.Password = testldap.AlicePassword
		if _, err := h.HandlePassword(t.Context(), req); err == nil {
			t.Error("the right password went through while throttled")
		}
	})
}

func TestDirectoryDownAndBack(t *testing.T) {
	s := testldap.Start(t)
	src := start(t, config(s))
	if got := claims(t, src, "alice", "name"); got["name"] != "Alice Adams" {
		t.Fatalf("claims = %v", got)
	}
	s.Stop()
	var oe *oauth.Error
	if _, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name"}}); !errors.As(err, &oe) || oe.Code != oauth.ErrCodeTemporarilyUnavailable {
		t.Errorf("Claims with the directory down: %v, want temporarily_unavailable", err)
	}
	if err := src.Healthy(t.Context()); err == nil {
		t.Error("Healthy with the directory down: no error")
	}
	if _, err := src.Authenticate(t.Context(), "alice", testldap.AlicePassword); !errors.As(err, &oe) || oe.Code != oauth.ErrCodeTemporarilyUnavailable {
		t.Errorf("Authenticate with the directory down: %v, want temporarily_unavailable", err)
	}
	s.Restart()
	if err := src.Healthy(t.Context()); err != nil {
		t.Errorf("Healthy after restart: %v", err)
	}
	if got := claims(t, src, "alice", "name"); got["name"] != "Alice Adams" {
		t.Fatalf("claims after restart = %v", got)
	}
}

// TestRestartWithIdleConnections: connections pooled before a restart are
// dead afterwards; the first request after it must still succeed.
func TestRestartWithIdleConnections(t *testing.T) {
	s := testldap.Start(t)
	cfg := config(s)
	cfg.PoolSize = 4
	src := start(t, cfg)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { claims(t, src, "alice", "name") })
	}
	wg.Wait()
	s.Stop()
	s.Restart()
	if got := claims(t, src, "alice", "name"); got["name"] != "Alice Adams" {
		t.Fatalf("claims after restart = %v", got)
	}
	if sub, err := src.Authenticate(t.Context(), "bob", testldap.BobPassword); err != nil || sub != "bob" {
		t.Fatalf("Authenticate after restart = %q, %v", sub, err)
	}
}

// TestSlowDirectory: a directory that accepts connections but does not
// answer (slapd stopped with SIGSTOP) ends at the request's deadline, and
// at the configured timeout without one.
func TestSlowDirectory(t *testing.T) {
	s := testldap.Start(t)
	cfg := config(s)
	cfg.Timeout = 2 * time.Second
	src := start(t, cfg)
	claims(t, src, "alice", "name") // one pooled connection
	s.Pause()
	defer s.Resume()

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := src.Claims(ctx, plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name"}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Claims past the deadline: err = %v, want context.DeadlineExceeded", err)
	}
	// Without a deadline the configured timeout ends it (a fresh
	// connection: the last one was dropped).
	if _, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name"}}); err == nil {
		t.Error("Claims against a hung directory: no error")
	}
	ctx, cancel = context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := src.Authenticate(ctx, "alice", testldap.AlicePassword); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Authenticate past the deadline: err = %v, want context.DeadlineExceeded", err)
	}
	s.Resume()
	if got := claims(t, src, "alice", "name"); got["name"] != "Alice Adams" {
		t.Fatalf("claims after resume = %v", got)
	}
}

func TestPoolBounded(t *testing.T) {
	s := testldap.Start(t)
	cfg := config(s)
	cfg.PoolSize = 2
	src := start(t, cfg)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if got := claims(t, src, "bob", "email"); got["email"] != "bob@example.org" {
				t.Errorf("claims = %v", got)
			}
		})
	}
	wg.Wait()
}

func TestTLS(t *testing.T) {
	s := testldap.Start(t)
	t.Run("ldaps with ca_file", func(t *testing.T) {
		cfg := config(s)
		cfg.URL, cfg.CAFile = s.LDAPSURL, s.CAFile
		src := start(t, cfg)
		if got := claims(t, src, "bob", "name"); got["name"] != "Bob Brown" {
			t.Fatalf("claims = %v", got)
		}
	})
	t.Run("start_tls with ca_file", func(t *testing.T) {
		cfg := config(s)
		cfg.StartTLS, cfg.CAFile = true, s.CAFile
		src := start(t, cfg)
		if sub, err := src.Authenticate(t.Context(), "bob", testldap.BobPassword); err != nil || sub != "bob" {
			t.Fatalf("Authenticate = %q, %v", sub, err)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		cfg := config(s)
		cfg.URL = s.LDAPSURL
		src, err := ldap.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := src.Init(t.Context(), plugin.Env{Log: slog.New(slog.NewTextHandler(t.Output(), nil))}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Init = %v, want a certificate error", err)
		}
	})
}

func TestWrongBindPassword(t *testing.T) {
	s := testldap.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "bind")
	const wrong = "not-the-service-secret"
	if err := os.WriteFile(file, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.BindPassword, cfg.BindPasswordFile = "", file
	src, err := ldap.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Init(t.Context(), plugin.Env{Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err == nil || !strings.Contains(err.Error(), "bind_dn") || strings.Contains(err.Error(), wrong) {
		t.Fatalf("Init = %v, want a bind_dn error without the password", err)
	}
	if _, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name"}}); err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("Claims = %v", err)
	}
	// The right password from the file works.
	if err := os.WriteFile(file, []byte(testldap.BindPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start(t, cfg)
}

func TestConfigErrors(t *testing.T) {
	base := func() ldap.Config {
		return ldap.Config{URL: "ldap://127.0.0.1:1", BindDN: "cn=x", BindPassword: "pw-secret", BaseDN: "dc=x",
			Filter: "(uid={sub})", Claims: map[string]string{"email": "mail"}}
	}
	for _, tc := range []struct {
		name string
		edit func(*ldap.Config)
		want string
	}{
		{"http url", func(c *ldap.Config) { c.URL = "http://x" }, "url"},
		{"url with dn", func(c *ldap.Config) { c.URL = "ldap://x/dc=x" }, "base_dn"},
		{"start_tls on ldaps", func(c *ldap.Config) { c.URL, c.StartTLS = "ldaps://x", true }, "start_tls"},
		{"no bind_dn", func(c *ldap.Config) { c.BindDN = "" }, "bind_dn"},
		{"no password", func(c *ldap.Config) { c.BindPassword = "" }, "bind_password"},
		{"two passwords", func(c *ldap.Config) { c.BindPasswordFile = "/x" }, "not both"},
		{"missing password file", func(c *ldap.Config) { c.BindPassword, c.BindPasswordFile = "", "/nonexistent/x" }, "bind_password_file"},
		{"no base_dn", func(c *ldap.Config) { c.BaseDN = "" }, "base_dn"},
		{"filter without {sub}", func(c *ldap.Config) { c.Filter = "(uid=alice)" }, "{sub}"},
		{"bad filter", func(c *ldap.Config) { c.Filter = "(uid={sub}" }, "RFC 4515"},
		{"bad login filter", func(c *ldap.Config) { c.LoginFilter = "(uid={sub})" }, "{username}"},
		{"no claims", func(c *ldap.Config) { c.Claims = nil }, "claims"},
		{"sub claim", func(c *ldap.Config) { c.Claims["sub"] = "uid" }, "sub"},
		{"tagged claim", func(c *ldap.Config) { c.Claims["name#de"] = "cn" }, "language tag"},
		{"bad attribute", func(c *ldap.Config) { c.Claims["name"] = "cn)(x" }, "attribute name"},
		{"dotted claim", func(c *ldap.Config) { c.Claims["a.b"] = "cn" }, "address"},
		{"address twice", func(c *ldap.Config) { c.Claims["address"] = "postalAddress"; c.Claims["address.locality"] = "l" }, "twice"},
		{"pool too big", func(c *ldap.Config) { c.PoolSize = 100000 }, "pool_size"},
		{"negative timeout", func(c *ldap.Config) { c.Timeout = -1 }, "timeout"},
		{"ca_file without tls", func(c *ldap.Config) { c.CAFile = "/x" }, "ca_file"},
		{"bad subject attribute", func(c *ldap.Config) { c.SubjectAttribute = "a b" }, "subject_attribute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			_, err := ldap.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw-secret") {
				t.Fatalf("New = %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := ldap.New(base()); err != nil {
		t.Fatalf("New(valid) = %v", err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "ldap", base())
	if printed := fmt.Sprintf("%v %+v %s", base(), base(), logged.String()); strings.Contains(printed, "pw-secret") {
		t.Errorf("the bind password is printed: %s", printed)
	}
}
