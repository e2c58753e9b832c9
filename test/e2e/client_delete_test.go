package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

// newRPWithID registers a confidential client under a chosen client ID, as
// `keyward client create --id` does, with a fresh secret and redirect URI
// (and any extra redirect URIs).
func (e *env) newRPWithID(id string, extraRedirects ...string) *rp {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	// The command line, as an operator would: it opens the node's stores
	// with the node's master key while the node runs.
	args := []string{"client", "create", "--data-dir", e.cfg.DataDir, "--issuer", e.issuer, "--id", id,
		"--name", "reused ID", "--scope", "openid email offline_access", "--redirect-uri", redirect}
	for _, r := range extraRedirects {
		args = append(args, "--redirect-uri", r)
	}
	if e.cfg.Store != "" {
		args = append(args, "--store", e.cfg.Store)
	}
	if e.cfg.Redis != "" {
		args = append(args, "--redis", e.cfg.Redis)
	}
	environ := []string{"KEYWARD_DEV=true", "KEYWARD_CLUSTER_REDIS_PREFIX=" + e.cfg.Cluster.RedisPrefix}
	var out, errOut bytes.Buffer
	if err := cli.Run(e.t.Context(), cli.Options{}, args, environ, strings.NewReader(""), &out, &errOut); err != nil {
		e.t.Fatalf("keyward client create --id %s: %v\n%s", id, err, errOut.String())
	}
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out.Bytes(), &reg); err != nil || reg.ClientID != id {
		e.t.Fatalf("keyward client create printed %q (%v)", out.String(), err)
	}
	ctx := oidc.ClientContext(e.t.Context(), e.http)
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("go-oidc discovery: %v", err)
	}
	r := &rp{e: e, clientID: reg.ClientID, clientSecret: reg.ClientSecret, redirectURI: redirect, provider: provider}
	r.conf = &oauth2.Config{
		ClientID: r.clientID, ClientSecret: r.clientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", oidc.ScopeOfflineAccess},
	}
	r.verifier = provider.Verifier(&oidc.Config{ClientID: r.clientID})
	return r
}

// TestDeletedClientLeavesNothingBehind: a client deleted over RFC 7592 and
// registered again under the same client_id (new secret, new redirect URI)
// cannot use anything issued to its predecessor: not its refresh token,
// not its long-lived consent, not a request it had pushed.
func TestDeletedClientLeavesNothingBehind(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func(t *testing.T) envOption
	}{
		{"sqlite", func(*testing.T) envOption { return func(*config.Config) {} }},
		{"postgres+redis", func(t *testing.T) envOption {
			dsn := pgtest.NewDatabase(t)
			redisURL, prefix := redistest.NewURL(t)
			return func(c *config.Config) { c.Store, c.Redis, c.Cluster.RedisPrefix = dsn, redisURL, prefix }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opt(t))
			const id = "reused-app"
			old := e.newRPWithID(id)
			verifier := oauth2.GenerateVerifier()
			params, _ := old.loginViaAPI(old.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "")
			tok, err := old.conf.Exchange(old.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil || tok.RefreshToken == "" {
				t.Fatalf("exchange: %v (refresh token issued: %v)", err, tok != nil && tok.RefreshToken != "")
			}
			status, body, _ := e.postForm("/par", url.Values{
				"response_type": {"code"}, "client_id": {id}, "redirect_uri": {old.redirectURI}, "scope": {"openid"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
			}, id, old.clientSecret)
			if status != http.StatusCreated {
				t.Fatalf("PAR: %d %v", status, body)
			}
			requestURI := body["request_uri"].(string)

			req, _ := http.NewRequest(http.MethodDelete, e.issuer+"/clients/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+e.apiToken)
			if status, body := e.doJSON(req); status != http.StatusNoContent {
				t.Fatalf("delete client: %d %v", status, body)
			}
			// It also keeps the old redirect URI, so that only the
			// deletion can stop the old pushed request below.
			reborn := e.newRPWithID(id, old.redirectURI)
			if reborn.clientSecret == old.clientSecret {
				t.Fatal("the re-created client got the old secret")
			}

			// The old refresh token, presented with the new credentials.
			status, body, _ = e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}},
				id, reborn.clientSecret)
			wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")

			// The old long-lived consent is gone: alice is asked again.
			status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t,
				reborn.conf.AuthCodeURL("st2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))})
			if status != http.StatusOK || msg["type"] != "auth" {
				t.Fatalf("start: %d %v", status, msg)
			}
			status, msg = e.authzSession(http.MethodPut, "/"+msg["sid"].(string), map[string]any{"sub": "alice"})
			if status != http.StatusOK || msg["type"] != "consent" {
				t.Errorf("after authentication: %d type %v, want a consent prompt (the old client's consent must not carry over)", status, msg["type"])
			}

			// The request the old client pushed is gone.
			status, msg = e.startQuery(url.Values{"client_id": {id}, "request_uri": {requestURI}})
			if status != http.StatusOK || msg["type"] == "auth" || msg["type"] == "consent" ||
				(msg["type"] == "response" && redirectParams(t, msg).Get("error") == "") {
				t.Errorf("the old client's pushed request: %d %v, want an error", status, msg)
			}
		})
	}
}
