package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/redis/redistest"
)

// storeDump returns everything a backend holds as text, so a test can
// look for a value anywhere in it.
type storeDump func(t *testing.T) string

// TestPARClientSecretNeverStored: a client_secret_post client pushes its
// request with its secret in the form. The secret authenticates the push
// and is then gone: not in any stored record (pushed request, authorisation
// session, on every backend) and not in the session API's auth_req.params.
func TestPARClientSecretNeverStored(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (envOption, storeDump)
	}{
		{"sqlite", func(t *testing.T) (envOption, storeDump) {
			var dir string
			return func(c *config.Config) { dir = c.DataDir }, func(t *testing.T) string { return dumpFiles(t, dir) }
		}},
		{"postgres", func(t *testing.T) (envOption, storeDump) {
			dsn := pgtest.NewDatabase(t)
			return func(c *config.Config) { c.Store = dsn }, func(t *testing.T) string { return dumpPostgres(t, dsn) }
		}},
		{"postgres+redis", func(t *testing.T) (envOption, storeDump) {
			dsn := pgtest.NewDatabase(t)
			redisURL, prefix := redistest.NewURL(t)
			return func(c *config.Config) { c.Store, c.Redis, c.Cluster.RedisPrefix = dsn, redisURL, prefix },
				func(t *testing.T) string { return dumpPostgres(t, dsn) + "\n" + dumpRedis(t, redisURL, prefix) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt, dump := tc.setup(t)
			e := newEnv(t, opt)
			r := e.newRP(map[string]any{"token_endpoint_auth_method": "client_secret_post"})
			if len(r.clientSecret) < 16 {
				t.Fatalf("client secret %q", r.clientSecret)
			}
			const state = "par-state-0b5f2c"
			verifier := oauth2.GenerateVerifier()
			push := url.Values{
				"response_type": {"code"}, "client_id": {r.clientID}, "client_secret": {r.clientSecret},
				"redirect_uri": {r.redirectURI}, "scope": {"openid email"}, "state": {state},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
			}
			status, body, _ := e.postForm("/par", push, "", "")
			if status != http.StatusCreated {
				t.Fatalf("PAR with client_secret_post: %d %v", status, body)
			}
			requestURI, _ := body["request_uri"].(string)
			checkStored := func(when string) {
				t.Helper()
				all := dump(t)
				// The dump must see the request at all, or the next check
				// proves nothing.
				if !strings.Contains(all, state) {
					t.Fatalf("%s: the store dump does not contain the request's state; is the dump complete?", when)
				}
				if strings.Contains(all, r.clientSecret) {
					t.Errorf("%s: the client secret is stored in clear", when)
				}
			}
			checkStored("after the push")

			status, msg := e.startQuery(url.Values{"client_id": {r.clientID}, "request_uri": {requestURI}})
			if status != http.StatusOK || msg["type"] != "auth" {
				t.Fatalf("start with the request_uri: %d %v", status, msg)
			}
			sid := msg["sid"].(string)
			checkStored("after the start")
			status, obj := e.authzSession(http.MethodGet, "/"+sid, nil)
			if status != http.StatusOK {
				t.Fatalf("GET the session: %d %v", status, obj)
			}
			params, _ := obj["auth_req"].(map[string]any)["params"].(map[string]any)
			if params["state"] == nil {
				t.Fatalf("auth_req.params = %v, want the pushed request", params)
			}
			for _, name := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
				if v, ok := params[name]; ok {
					t.Errorf("auth_req.params.%s = %v, want absent", name, v)
				}
			}

			// The flow still completes and the code redeems.
			e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
			_, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{"scope": []string{"*"}, "claims": []string{"*"}})
			p := redirectParams(t, msg)
			if p.Get("state") != state || p.Get("code") == "" {
				t.Fatalf("final response %v", p)
			}
			if _, err := r.conf.Exchange(r.ctx(), p.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
				t.Fatalf("exchange: %v", err)
			}
			checkStored("after the exchange")
		})
	}
}

// dumpFiles returns the bytes of every file under dir (the SQLite database
// and its journal).
func dumpFiles(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Write(raw)
		b.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// postgresTables calls fn with a connection for every table of the
// database's public schema.
func postgresTables(t *testing.T, dsn string, fn func(ctx context.Context, conn *pgx.Conn, table string)) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tables {
		fn(ctx, conn, name)
	}
}

// dumpPostgres returns every row of every table of the database as text.
func dumpPostgres(t *testing.T, dsn string) string {
	t.Helper()
	var b strings.Builder
	postgresTables(t, dsn, func(ctx context.Context, conn *pgx.Conn, name string) {
		var text string
		q := `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM ` + pgx.Identifier{name}.Sanitize() + ` t`
		if err := conn.QueryRow(ctx, q).Scan(&text); err != nil {
			t.Fatalf("dump %s: %v", name, err)
		}
		b.WriteString(text)
		b.WriteByte('\n')
	})
	return b.String()
}

// dumpRedis returns every value under prefix as text.
func dumpRedis(t *testing.T, redisURL, prefix string) string {
	t.Helper()
	ctx := context.Background()
	opts, err := goredis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var vals []string
		typ, err := rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		switch typ {
		case "string":
			v, err := rdb.Get(ctx, key).Result()
			if err != nil && err != goredis.Nil {
				t.Fatal(err)
			}
			vals = []string{v}
		case "hash":
			m, err := rdb.HGetAll(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range m {
				vals = append(vals, k, v)
			}
		case "set":
			vals, err = rdb.SMembers(ctx, key).Result()
		case "zset":
			vals, err = rdb.ZRange(ctx, key, 0, -1).Result()
		case "list":
			vals, err = rdb.LRange(ctx, key, 0, -1).Result()
		case "none": // expired since the scan
		default:
			t.Fatalf("redis key %s has type %s, which the dump does not read", key, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(key + " " + strings.Join(vals, " ") + "\n")
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestClientAssertionMaxAgeConfigured: tokens.client_assertion_max_age
// bounds the life of client assertions at every endpoint that
// authenticates clients (here /par).
func TestClientAssertionMaxAgeConfigured(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Tokens.ClientAssertionMaxAge = time.Minute })
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	r := e.newRP(map[string]any{
		"token_endpoint_auth_method": "private_key_jwt",
		"jwks":                       jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}},
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	push := func(life time.Duration) (int, map[string]any) {
		t.Helper()
		now := time.Now()
		a, err := jwt.Signed(signer).Claims(jwt.Claims{
			Issuer: r.clientID, Subject: r.clientID, Audience: jwt.Audience{e.issuer + "/token"},
			ID: rand.Text(), IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(life)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		status, body, _ := e.postForm("/par", url.Values{
			"response_type": {"code"}, "client_id": {r.clientID}, "redirect_uri": {r.redirectURI},
			"scope": {"openid"}, "state": {"st"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a},
		}, "", "")
		return status, body
	}
	// Within the configured minute (plus the 60 s leeway) it authenticates;
	// five minutes, the default bound, is refused.
	if status, body := push(30 * time.Second); status != http.StatusCreated {
		raw, _ := json.Marshal(body)
		t.Fatalf("30-second assertion: %d %s, want 201", status, raw)
	}
	status, body := push(5 * time.Minute)
	wantOAuthError(t, status, body, http.StatusUnauthorized, "invalid_client")
}

// TestIDTokenHintMustBeAnIDTokenForTheClient: through the running server,
// the client's own ID token works as id_token_hint (required_sub), but its
// access token — also a JWT signed by us, naming the same subject — does
// not, nor does an ID token issued to another client.
func TestIDTokenHintMustBeAnIDTokenForTheClient(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	other := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	params, _ := r.loginViaAPI(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", "")
	tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if strings.Count(tok.AccessToken, ".") != 2 || idToken == "" {
		t.Fatalf("want a JWT access token and an ID token, got %q / %q", tok.AccessToken, idToken)
	}
	start := func(c *rp, hint, prompt string) map[string]any {
		t.Helper()
		q := c.baseQuery()
		q.Set("id_token_hint", hint)
		if prompt != "" {
			q.Set("prompt", prompt)
		}
		status, msg := e.startQuery(q)
		if status != http.StatusOK {
			t.Fatalf("start: %d %v", status, msg)
		}
		return msg
	}
	if msg := start(r, idToken, ""); msg["type"] != "auth" || msg["required_sub"] != "alice" {
		t.Fatalf("the client's own ID token as hint: %v, want an auth prompt with required_sub alice", msg)
	}
	for _, tc := range []struct {
		name   string
		client *rp
		hint   string
	}{
		{"the access token", r, tok.AccessToken},
		{"another client's ID token", other, idToken},
	} {
		for prompt, want := range map[string]string{"": "invalid_request", "none": "login_required"} {
			msg := start(tc.client, tc.hint, prompt)
			if msg["required_sub"] != nil || msg["sid"] != nil {
				t.Errorf("%s as hint (prompt=%q) opened a session: %v", tc.name, prompt, msg)
				continue
			}
			if got := redirectParams(t, msg).Get("error"); got != want {
				t.Errorf("%s as hint (prompt=%q): error %q, want %s", tc.name, prompt, got, want)
			}
		}
	}
}

// TestLoginThrottleHoldsUnderParallelGuesses: wrong passwords for one
// username posted in parallel with one form state to the built-in login UI
// (real users file, real argon2id) are checked at most 5 times — the
// default limit; the rest are refused with 429 before any password check,
// and so is the right password afterwards.
func TestLoginThrottleHoldsUnderParallelGuesses(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	b := e.newBrowser()
	resp, page := b.get(r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /login: %d", resp.StatusCode)
	}
	form := hiddenFields(page)
	try := func(pass string) int {
		f := url.Values{"username": {"alice"}, "password": {pass}}
		for k, v := range form {
			f[k] = v
		}
		resp, _ := b.submit("/login/authenticate", f)
		return resp.StatusCode
	}
	const parallel = 20
	statuses := make(chan int, parallel)
	var wg sync.WaitGroup
	for i := range parallel {
		wg.Go(func() { statuses <- try(fmt.Sprintf("guess-%d", i)) })
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusUnauthorized] != 5 || got[http.StatusTooManyRequests] != parallel-5 {
		t.Errorf("statuses %v, want 5 checked (401) and %d refused (429)", got, parallel-5)
	}
	if s := try("alice-password"); s != http.StatusTooManyRequests {
		t.Errorf("right password after the limit: %d, want 429", s)
	}
}
