package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/server"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

// backends are the two store set-ups every API test runs on: the embedded
// default and a cluster's PostgreSQL + Redis.
func backends() []struct {
	name string
	opt  func(t *testing.T) envOption
} {
	return []struct {
		name string
		opt  func(t *testing.T) envOption
	}{
		{"sqlite", func(*testing.T) envOption { return func(*config.Config) {} }},
		{"postgres+redis", func(t *testing.T) envOption {
			dsn := pgtest.NewDatabase(t)
			redisURL, prefix := redistest.NewURL(t)
			return func(c *config.Config) { c.Store, c.Redis, c.Cluster.RedisPrefix = dsn, redisURL, prefix }
		}},
	}
}

// refresh presents a refresh token for r.
func (r *rp) refresh(rt string) (int, map[string]any) {
	r.e.t.Helper()
	status, body, _ := r.e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, r.clientID, r.clientSecret)
	return status, body
}

func seconds(t *testing.T, body map[string]any, member string) int64 {
	t.Helper()
	v, ok := body[member].(float64)
	if !ok {
		t.Fatalf("%s missing or not a number in %v", member, body)
	}
	return int64(v)
}

// TestRefreshTokenReuseGrace: with rotation, an immediate retry of the
// rotated refresh token gets a successor while tokens.refresh_token_reuse_grace
// lasts (default 5 s), and revokes the grant after it; with the grace set to
// 0 the very first retry is a replay that revokes the whole family.
func TestRefreshTokenReuseGrace(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("grace 0", func(t *testing.T) {
				c := testclock.New(time.Now().Truncate(time.Second))
				e := newEnvWithOptions(t, server.Options{Now: c.Now}, b.opt(t), func(cfg *config.Config) {
					cfg.Tokens.RotateRefreshTokens = true
					cfg.Tokens.RefreshTokenReuseGrace = 0
				})
				r := e.newRP(nil)
				status, tok := r.redeem(r.codeFor("alice"))
				if status != http.StatusOK {
					t.Fatalf("redeem: %d %v", status, tok)
				}
				rt1 := tok["refresh_token"].(string)
				status, next := r.refresh(rt1)
				if status != http.StatusOK || next["refresh_token"] == nil {
					t.Fatalf("first refresh: %d %v", status, next)
				}
				status, body := r.refresh(rt1) // same instant: no grace at all
				wantOAuthError(t, status, body, 400, "invalid_grant")
				status, body = r.refresh(next["refresh_token"].(string))
				wantOAuthError(t, status, body, 400, "invalid_grant")
				wantUserInfoRefused(t, e, next["access_token"].(string))
			})
			t.Run("default grace", func(t *testing.T) {
				c := testclock.New(time.Now().Truncate(time.Second))
				e := newEnvWithOptions(t, server.Options{Now: c.Now}, b.opt(t), func(cfg *config.Config) {
					cfg.Tokens.RotateRefreshTokens = true
				})
				if e.cfg.Tokens.RefreshTokenReuseGrace != 5*time.Second {
					t.Fatalf("default grace %v, want 5s", e.cfg.Tokens.RefreshTokenReuseGrace)
				}
				r := e.newRP(nil)
				status, tok := r.redeem(r.codeFor("alice"))
				if status != http.StatusOK {
					t.Fatalf("redeem: %d %v", status, tok)
				}
				rt1 := tok["refresh_token"].(string)
				if status, body := r.refresh(rt1); status != http.StatusOK {
					t.Fatalf("first refresh: %d %v", status, body)
				}
				c.Advance(5 * time.Second)
				status, retry := r.refresh(rt1)
				if status != http.StatusOK || retry["refresh_token"] == nil {
					t.Fatalf("retry within the grace: %d %v, want a successor", status, retry)
				}
				c.Advance(time.Second)
				status, body := r.refresh(rt1)
				wantOAuthError(t, status, body, 400, "invalid_grant")
				status, body = r.refresh(retry["refresh_token"].(string))
				wantOAuthError(t, status, body, 400, "invalid_grant")
			})
		})
	}
}

// TestRefreshTokenExpiresIn: token responses say when the refresh token
// expires, and the access token never outlives it.
func TestRefreshTokenExpiresIn(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := testclock.New(time.Now().Truncate(time.Second))
			e := newEnvWithOptions(t, server.Options{Now: c.Now}, b.opt(t), func(cfg *config.Config) {
				cfg.Tokens.RefreshTokenLifetime = 5 * time.Minute // shorter than the 10 min access token
			})
			r := e.newRP(nil)
			status, tok := r.redeem(r.codeFor("alice"))
			if status != http.StatusOK {
				t.Fatalf("redeem: %d %v", status, tok)
			}
			if rtIn, atIn := seconds(t, tok, "refresh_token_expires_in"), seconds(t, tok, "expires_in"); rtIn != 300 || atIn != 300 {
				t.Errorf("code: refresh_token_expires_in %d expires_in %d, want 300 300", rtIn, atIn)
			}
			c.Advance(2 * time.Minute)
			status, next := r.refresh(tok["refresh_token"].(string))
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, next)
			}
			if atIn := seconds(t, next, "expires_in"); atIn != 180 {
				t.Errorf("refresh: expires_in %d, want 180 (the refresh token's remaining life)", atIn)
			}
			if _, ok := next["refresh_token_expires_in"]; ok && next["refresh_token"] == nil {
				t.Errorf("refresh_token_expires_in without a refresh token: %v", next)
			}
			// A token that does not expire gets no refresh_token_expires_in.
			e2 := newEnv(t, b.opt(t))
			r2 := e2.newRP(nil)
			status, tok = r2.redeem(r2.codeFor("alice"))
			if status != http.StatusOK || tok["refresh_token"] == nil {
				t.Fatalf("redeem: %d %v", status, tok)
			}
			if _, ok := tok["refresh_token_expires_in"]; ok {
				t.Errorf("refresh_token_expires_in for a refresh token without expiry: %v", tok)
			}
		})
	}
}

// wantUserInfoRefused checks that an access token no longer works.
func wantUserInfoRefused(t *testing.T, e *env, at string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	status, body := e.doJSON(req)
	wantOAuthError(t, status, body, 401, "invalid_token")
}
