package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Default(), cfg, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Load() without sources differs from Default() (-want +got):\n%s", diff)
	}
	if got := cfg.StoreURL(); got != "sqlite://keyward-data/keyward.db" {
		t.Errorf("StoreURL() = %q", got)
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keyward.yaml")
	yaml := `
listen: "127.0.0.1:9000"
issuer: https://file.example
data_dir: /from/file
tokens:
  access_token_lifetime: 20m
  id_token_lifetime: 2m
authz:
  acr_values: [gold, silver]
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Sources{
		File: file,
		Environ: []string{
			"KEYWARD_ISSUER=https://env.example",
			"KEYWARD_TOKENS_ID_TOKEN_LIFETIME=3m",
			"KEYWARD_TOKENS_CLIENT_ASSERTION_MAX_AGE=2m",
			"KEYWARD_API_TOKENS_MONITOR=" + strings.Repeat("ab", 32),
			"KEYWARD_TEST_SOMETHING=ignored",
			"PATH=/bin",
		},
		Flags: map[string]any{"issuer": "https://flag.example", "dev": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag beats env and file", cfg.Issuer, "https://flag.example"},
		{"file beats default", cfg.Listen, "127.0.0.1:9000"},
		{"file key with underscore", cfg.DataDir, "/from/file"},
		{"nested file key", cfg.Tokens.AccessTokenLifetime, 20 * time.Minute},
		{"env beats file for nested key", cfg.Tokens.IDTokenLifetime, 3 * time.Minute},
		{"env key with underscores", cfg.Tokens.ClientAssertionMaxAge, 2 * time.Minute},
		{"env list", cfg.APITokens.Monitor, []string{strings.Repeat("ab", 32)}},
		{"file list", cfg.Authz.ACRValues, []string{"gold", "silver"}},
		{"flag bool", cfg.Dev, true},
		{"default kept", cfg.Authz.CodeLifetime, 60 * time.Second},
		{"purge margin default", cfg.Cluster.PurgeMargin, time.Minute},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestLoadConfigFileFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("listen: \"127.0.0.1:7000\"\n"), 0o600)
	cfg, err := Load(Sources{Environ: []string{"KEYWARD_CONFIG=" + file}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:7000" {
		t.Errorf("Listen = %q, want the value from the file KEYWARD_CONFIG names", cfg.Listen)
	}
}

func TestLoadRejectsBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("listne: \":1\"\n"), 0o600)
	tests := []struct {
		name    string
		src     Sources
		wantErr string
	}{
		{"unknown file key", Sources{File: typo}, "listne"},
		{"missing file", Sources{File: filepath.Join(dir, "nope.yaml")}, "config file"},
		{"bad issuer", Sources{Flags: map[string]any{"issuer": "ftp://x"}}, "issuer"},
		{"http issuer off localhost", Sources{Flags: map[string]any{"issuer": "http://idp.example"}}, "must use https"},
		{"bad listen", Sources{Flags: map[string]any{"listen": "8080"}}, "listen"},
		{"bad store", Sources{Flags: map[string]any{"store": "mysql://x"}}, "store"},
		{"bad store with password", Sources{Flags: map[string]any{"store": "mysql://u:hunter2@x/db"}}, `"mysql://u:xxxxx@x/db"`},
		{"issuer with trailing slash", Sources{Flags: map[string]any{"issuer": "https://op.example/"}}, `use "https://op.example"`},
		{"short api token", Sources{Flags: map[string]any{"api_token": "short"}}, "api_token"},
		{"bad duration", Sources{Environ: []string{"KEYWARD_AUTHZ_CODE_LIFETIME=soon"}}, "code_lifetime"},
		{"code lifetime too long", Sources{Environ: []string{"KEYWARD_AUTHZ_CODE_LIFETIME=10m"}}, "180s"},
		{"bad api token hash", Sources{Environ: []string{"KEYWARD_API_TOKENS_MONITOR=zz"}}, "SHA-256"},
		{"bad outbound cidr", Sources{Environ: []string{"KEYWARD_OUTBOUND_ALLOW_CIDRS=10.0.0.0/33"}}, "outbound.allow_cidrs"},
		{"outbound host with port", Sources{Environ: []string{"KEYWARD_OUTBOUND_ALLOW_HOSTS=keys.internal:443"}}, "outbound.allow_hosts"},
		{"bad alg", Sources{Environ: []string{"KEYWARD_TOKENS_ID_TOKEN_ALG=none"}}, "id_token_alg"},
		{"negative purge margin", Sources{Environ: []string{"KEYWARD_CLUSTER_PURGE_MARGIN=-1s"}}, "cluster.purge_margin"},
		{"assertion max age zero", Sources{Environ: []string{"KEYWARD_TOKENS_CLIENT_ASSERTION_MAX_AGE=0s"}}, "client_assertion_max_age"},
		{"assertion max age too long", Sources{Environ: []string{"KEYWARD_TOKENS_CLIENT_ASSERTION_MAX_AGE=24h"}}, "client_assertion_max_age"},
		{"negative reuse grace", Sources{Environ: []string{"KEYWARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE=-1s"}}, "refresh_token_reuse_grace"},
		{"reuse grace too long", Sources{Environ: []string{"KEYWARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE=2m"}}, "refresh_token_reuse_grace"},
		{"request object max age zero", Sources{Environ: []string{"KEYWARD_AUTHZ_REQUEST_OBJECT_MAX_AGE=0s"}}, "authz.request_object_max_age"},
		{"request object max age too long", Sources{Environ: []string{"KEYWARD_AUTHZ_REQUEST_OBJECT_MAX_AGE=2h"}}, "authz.request_object_max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.src)
			if err == nil {
				t.Fatalf("Load succeeded, want an error mentioning %q", tt.wantErr)
			}
			// A heading line, then one line per problem.
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 2 || !strings.Contains(lines[1], tt.wantErr) {
				t.Errorf("error = %q, want one problem line mentioning %q", err, tt.wantErr)
			}
			if env := tt.src.Environ; len(env) == 1 {
				name, value, _ := strings.Cut(env[0], "=")
				if !strings.Contains(lines[1], name) {
					t.Errorf("error = %q, want it to name the variable %s", err, name)
				}
				if strings.HasPrefix(tt.name, "bad") && !strings.Contains(lines[1], value) {
					t.Errorf("error = %q, want it to show the value %q", err, value)
				}
			}
		})
	}
}

func TestDemoImpliesDev(t *testing.T) {
	cfg, err := Load(Sources{Flags: map[string]any{"demo": true}})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev {
		t.Error("--demo did not imply --dev")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret("super-secret-value")
	if got := s.String(); strings.Contains(got, "super") {
		t.Errorf("String() = %q", got)
	}
}

// TestValidateOrderIsStable: every problem is reported, in the order of the
// keys, the same way on every run (no map iteration order in messages).
func TestValidateOrderIsStable(t *testing.T) {
	c := Default()
	c.Authz.SessionLifetime, c.Authz.CodeLifetime, c.Cluster.PurgeInterval = -1, 0, 0
	c.APITokens.AuthzSessions = []string{"a"}
	c.APITokens.Monitor = []string{"b"}
	c.Tokens.AccessTokenAlg, c.Tokens.IDTokenAlg = "none", "HS256"
	var first string
	for i := range 50 {
		var got []string
		for _, err := range c.Validate() {
			got = append(got, err.Error())
		}
		joined := strings.Join(got, "\n")
		if i == 0 {
			first = joined
			continue
		}
		if joined != first {
			t.Fatalf("run %d reported\n%s\nrun 0 reported\n%s", i, joined, first)
		}
	}
	var positions []int
	for _, key := range []string{"api_tokens.authz_sessions", "api_tokens.monitor", "authz.session_lifetime",
		"authz.code_lifetime", "cluster.purge_interval", "tokens.access_token_alg", "tokens.id_token_alg"} {
		i := strings.Index(first, key)
		if i < 0 {
			t.Fatalf("no problem reported for %s:\n%s", key, first)
		}
		positions = append(positions, i)
	}
	if !slices.IsSorted(positions) {
		t.Errorf("problems not in key order:\n%s", first)
	}
}

// TestRefreshTokenReuseGrace: the grace defaults to Connect2id's 5 s and
// "0" from the environment turns it off rather than falling back to it.
func TestRefreshTokenReuseGrace(t *testing.T) {
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tokens.RefreshTokenReuseGrace != 5*time.Second {
		t.Errorf("default grace %v, want 5s", cfg.Tokens.RefreshTokenReuseGrace)
	}
	cfg, err = Load(Sources{Environ: []string{"KEYWARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE=0"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Tokens.RefreshTokenReuseGrace != 0 {
		t.Errorf("grace %v after setting 0, want 0 (off)", cfg.Tokens.RefreshTokenReuseGrace)
	}
}

// api_tokens.introspection is read from the environment like the other
// per-API tokens and validated in the same loop.
func TestIntrospectionTokens(t *testing.T) {
	digest := strings.Repeat("cd", 32)
	cfg, err := Load(Sources{Environ: []string{"KEYWARD_API_TOKENS_INTROSPECTION=" + digest}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.APITokens.Introspection, []string{digest}) {
		t.Fatalf("api_tokens.introspection = %v", cfg.APITokens.Introspection)
	}
	cfg.APITokens.Introspection = []string{"not-a-digest"}
	var msgs []string
	for _, err := range cfg.Validate() {
		msgs = append(msgs, err.Error())
	}
	if !strings.Contains(strings.Join(msgs, "\n"), `api_tokens.introspection: "not-a-digest" is not a SHA-256 hex digest`) {
		t.Errorf("problems: %v", msgs)
	}
}

// TestAuthzStoreTokens: api_tokens.authz_store takes SHA-256 hex digests,
// from the environment like every list key, and refuses anything else.
func TestAuthzStoreTokens(t *testing.T) {
	c := Default()
	c.APITokens.AuthzStore = []string{strings.Repeat("ab", 32), "not-a-digest"}
	var got []string
	for _, err := range c.Validate() {
		got = append(got, err.Error())
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, `api_tokens.authz_store: "not-a-digest" is not a SHA-256 hex digest`) {
		t.Errorf("bad digest not reported:\n%s", joined)
	}
	if strings.Contains(joined, strings.Repeat("ab", 32)) {
		t.Errorf("good digest reported:\n%s", joined)
	}
	if !slices.Contains(AllKeys(), "api_tokens.authz_store") {
		t.Errorf("api_tokens.authz_store is not a known key: %v", AllKeys())
	}
}

// TestLogoutKeys: the logout and session keys load from the environment,
// and every bound is reported by name.
func TestLogoutKeys(t *testing.T) {
	digest := strings.Repeat("ef", 32)
	cfg, err := Load(Sources{Environ: []string{
		"KEYWARD_API_TOKENS_SESSION_STORE=" + digest,
		"KEYWARD_API_TOKENS_LOGOUT_SESSIONS=" + digest,
		"KEYWARD_SESSIONS_QUOTA_PER_SUBJECT=3",
		"KEYWARD_LOGOUT_REVOKE_TOKENS=all",
		"KEYWARD_LOGOUT_BACKCHANNEL_TIMEOUT=2s",
		"KEYWARD_LOGOUT_BACKCHANNEL_RETRIES=0",
		"KEYWARD_LOGOUT_ENDPOINT=https://login.example.com/bye",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.APITokens.SessionStore, []string{digest}) || !slices.Equal(cfg.APITokens.LogoutSessions, []string{digest}) ||
		cfg.Sessions.QuotaPerSubject != 3 || cfg.Logout.RevokeTokens != "all" || cfg.Logout.Backchannel.Timeout != 2*time.Second ||
		cfg.Logout.Backchannel.Retries != 0 || cfg.EndSessionEndpoint() != "https://login.example.com/bye" || cfg.BuiltInLogoutUI() {
		t.Fatalf("loaded %+v %+v", cfg.Logout, cfg.Sessions)
	}
	d := Default()
	if d.EndSessionEndpoint() != "http://localhost:8080/logout" || !d.BuiltInLogoutUI() {
		t.Errorf("default end-session endpoint %q", d.EndSessionEndpoint())
	}
	d.Authz.Endpoint = "https://ui.example.com/login"
	if d.EndSessionEndpoint() != "" {
		t.Errorf("an external login UI without logout.endpoint advertises %q", d.EndSessionEndpoint())
	}
	bad := Default()
	bad.APITokens.SessionStore = []string{"x"}
	bad.APITokens.LogoutSessions = []string{"y"}
	bad.Sessions.QuotaPerSubject = 26
	bad.Logout.RevokeTokens = "some"
	bad.Logout.SessionLifetime = 0
	bad.Logout.Endpoint = "/relative"
	bad.Logout.Backchannel = Backchannel{Timeout: time.Minute, Parallelism: 0, Retries: 11, QueueSize: 0}
	var msgs []string
	for _, err := range bad.Validate() {
		msgs = append(msgs, err.Error())
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"api_tokens.session_store", "api_tokens.logout_sessions", "sessions.quota_per_subject",
		"logout.revoke_tokens", "logout.session_lifetime", "logout.endpoint", "logout.backchannel.timeout",
		"logout.backchannel.parallelism", "logout.backchannel.retries", "logout.backchannel.queue_size"} {
		if !strings.Contains(joined, want) {
			t.Errorf("%s not reported:\n%s", want, joined)
		}
	}
}

// TestOutboundAllowList: the allow-list keys load from the environment
// (comma-separated) and parse to ranges.
func TestOutboundAllowList(t *testing.T) {
	cfg, err := Load(Sources{Environ: []string{
		"KEYWARD_OUTBOUND_ALLOW_HOSTS=keys.internal,jwks.corp.example",
		"KEYWARD_OUTBOUND_ALLOW_CIDRS=10.1.0.0/16,fd12::/64",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Outbound.AllowHosts; len(got) != 2 || got[1] != "jwks.corp.example" {
		t.Errorf("allow_hosts = %q", got)
	}
	if got := cfg.Outbound.Prefixes(); len(got) != 2 || got[0].String() != "10.1.0.0/16" || got[1].String() != "fd12::/64" {
		t.Errorf("allow_cidrs = %v", got)
	}
}

// Demo mode binds loopback unless listen is set by a flag, the
// environment or the file.
func TestDemoListensOnLoopback(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("listen: \":9000\"\n"), 0o600)
	for _, tt := range []struct {
		name string
		src  Sources
		want string
	}{
		{"default", Sources{Flags: map[string]any{"demo": true}}, "127.0.0.1:8080"},
		{"flag", Sources{Flags: map[string]any{"demo": true, "listen": ":8081"}}, ":8081"},
		{"env", Sources{Flags: map[string]any{"demo": true}, Environ: []string{"KEYWARD_LISTEN=:8082"}}, ":8082"},
		{"file", Sources{File: file, Flags: map[string]any{"demo": true}}, ":9000"},
		{"no demo", Sources{}, ":8080"},
	} {
		cfg, err := Load(tt.src)
		if err != nil || cfg.Listen != tt.want {
			t.Errorf("%s: listen %q (%v), want %q", tt.name, cfg.Listen, err, tt.want)
		}
	}
}

// Changed names the keys whose values differ (SIGHUP logs those that need
// a restart).
func TestChanged(t *testing.T) {
	a, b := Default(), Default()
	b.Listen, b.Log.Level, b.Tokens.AccessTokenLifetime = ":9999", "debug", time.Hour
	got := Changed(a, b, "log.level")
	if diff := cmp.Diff([]string{"listen", "tokens.access_token_lifetime"}, got); diff != "" {
		t.Errorf("Changed (-want +got):\n%s", diff)
	}
	if got := Changed(a, a); len(got) != 0 {
		t.Errorf("Changed(a, a) = %v", got)
	}
}
