package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

// TestSecretsAtRest runs the flows that put secrets on the wire — client
// registration, the code flow with a refresh, client credentials and the
// password grant with opaque access tokens, calls with the API token —
// then reads every byte the backend holds (the SQLite files; every row of
// every PostgreSQL table and every Redis key and value) and looks for each
// secret in clear. The stores keep digests or sealed values only.
func TestSecretsAtRest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (envOption, storeDump)
	}{
		{"sqlite", func(t *testing.T) (envOption, storeDump) {
			// The database and its journal files only: the data directory
			// also holds the bootstrap api-token file, which by design keeps
			// the token the operator was shown (mode 0600).
			var dir string
			return func(c *config.Config) { dir = c.DataDir }, func(t *testing.T) string { return dumpSQLite(t, dir) }
		}},
		{"postgres+redis", func(t *testing.T) (envOption, storeDump) {
			dsn := pgtest.NewDatabase(t)
			redisURL, prefix := redistest.NewURL(t)
			return func(c *config.Config) { c.Store, c.Redis, c.Cluster.RedisPrefix = dsn, redisURL, prefix },
				func(t *testing.T) string { return dumpPostgres(t, dsn) + "\n" + dumpRedis(t, redisURL, prefix) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storeOpt, dump := tc.setup(t)
			e := newEnv(t, storeOpt, func(c *config.Config) {
				c.Tokens.AccessTokenEncoding = "IDENTIFIER"
				c.Grants.Password.Handler = "users"
			})
			secrets := map[string]string{"API token": e.apiToken, "password": "alice-password"}
			add := func(name string, v any) {
				t.Helper()
				s, _ := v.(string)
				if len(s) < 8 {
					t.Fatalf("%s: %q is not a secret to look for", name, s)
				}
				secrets[name] = s
			}

			// Code flow with PKCE, then a refresh.
			r := e.newRP(nil)
			add("code flow client_secret", r.clientSecret)
			verifier := oauth2.GenerateVerifier()
			params, subSID := r.loginViaAPI(r.conf.AuthCodeURL("st-at-rest", oauth2.S256ChallengeOption(verifier), oauth2.AccessTypeOffline), "alice", "")
			add("authorisation code", params.Get("code"))
			add("subject session ID", subSID)
			tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			add("code flow access token", tok.AccessToken)
			add("code flow refresh token", tok.RefreshToken)
			status, refreshed, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, r.clientID, r.clientSecret)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, refreshed)
			}
			add("refreshed access token", refreshed["access_token"])
			if rt, ok := refreshed["refresh_token"]; ok {
				add("rotated refresh token", rt)
			}

			// A client registered for client credentials and the password
			// grant, with its registration access token.
			status, reg := e.registerClient(map[string]any{
				"grant_types": []string{"client_credentials", "password", "refresh_token"}, "response_types": []string{},
				"scope": "openid email read",
			})
			if status != http.StatusCreated {
				t.Fatalf("register: %d %v", status, reg)
			}
			id, _ := reg["client_id"].(string)
			add("client_secret", reg["client_secret"])
			add("registration_access_token", reg["registration_access_token"])
			status, cc, _ := e.postForm("/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, id, secrets["client_secret"])
			if status != http.StatusOK {
				t.Fatalf("client credentials: %d %v", status, cc)
			}
			add("client credentials access token", cc["access_token"])
			status, pw, _ := e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid email"}}, id, secrets["client_secret"])
			if status != http.StatusOK {
				t.Fatalf("password grant: %d %v", status, pw)
			}
			add("password grant access token", pw["access_token"])
			add("password grant refresh token", pw["refresh_token"])
			// The registration access token reads the client (RFC 7592).
			req := badReq(t, http.MethodGet, e.issuer+"/clients/"+id, "", nil)
			req.Header.Set("Authorization", "Bearer "+secrets["registration_access_token"])
			if status, body := e.doJSON(req); status != http.StatusOK {
				t.Fatalf("read client with its registration access token: %d %v", status, body)
			}

			all := dump(t)
			// The dump must hold the flows' records at all, or finding
			// nothing proves nothing.
			for _, seen := range []string{r.clientID, id, "st-at-rest"} {
				if !strings.Contains(all, seen) {
					t.Fatalf("the store dump lacks %q; is it complete?", seen)
				}
			}
			for name, s := range secrets {
				if strings.Contains(all, s) {
					t.Errorf("%s is stored in clear", name)
				}
			}
		})
	}
}

// dumpSQLite returns the bytes of the SQLite database files under dir
// (keyward.db and its -wal, -shm or -journal companions).
func dumpSQLite(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "keyward.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no SQLite database in %s: %v", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}
