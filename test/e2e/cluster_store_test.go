package e2e

import (
	"testing"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

// TestFlowsOnPostgresAndRedis runs the main flows with the cluster
// backends: PostgreSQL for durable data, Redis for short-lived objects.
func TestFlowsOnPostgresAndRedis(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"postgres", false}, {"postgres+redis", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.NewDatabase(t)
			opt := func(c *config.Config) { c.Store = dsn }
			if tc.redis {
				redisURL, prefix := redistest.NewURL(t)
				opt = func(c *config.Config) { c.Store, c.Redis, c.Cluster.RedisPrefix = dsn, redisURL, prefix }
			}
			e := newEnv(t, opt)
			r := e.newRP(nil)
			verifier := oauth2.GenerateVerifier()
			params, subSID := r.loginViaAPI(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "bob", "")
			tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if _, err := r.verifier.Verify(r.ctx(), tok.Extra("id_token").(string)); err != nil {
				t.Errorf("ID token: %v", err)
			}
			if _, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok)); err != nil {
				t.Errorf("userinfo: %v", err)
			}
			// Code reuse is refused and revokes.
			status, body := r.redeem(params.Get("code"), verifier)
			wantOAuthError(t, status, body, 400, "invalid_grant")
			// SSO with the session from the store.
			r2 := e.newRP(nil)
			_, sid2 := r2.loginViaAPI(r2.conf.AuthCodeURL("st2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "bob", subSID)
			if sid2 != subSID {
				t.Errorf("SSO created a new session %q, want the existing %q", sid2, subSID)
			}
		})
	}
}
