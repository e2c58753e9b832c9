package token

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func TestAuthenticateClient(t *testing.T) {
	e := newEnv(t)
	hs := func(override map[string]any) string {
		return e.assertion(gojose.HS256, []byte(jwtSecret), override, "jwtc")
	}
	es := func(override map[string]any) string {
		return e.assertion(gojose.ES256, e.clientKey, override, "pkjwt")
	}
	assertionForm := func(a string) url.Values {
		return form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a)
	}
	const invalidClient = oauth.ErrCodeInvalidClient
	tests := []struct {
		name       string
		creds      Credentials
		wantClient string
		wantCode   string
		wantStatus int
	}{
		{"basic", basic("basic", basicSecret, nil), "basic", "", 0},
		{"basic with same client_id in form", basic("basic", basicSecret, form("client_id", "basic")), "basic", "", 0},
		{"post", formCreds(form("client_id", "post", "client_secret", postSecret)), "post", "", 0},
		{"none", formCreds(form("client_id", "public")), "public", "", 0},
		{"client_secret_jwt", formCreds(assertionForm(hs(nil))), "jwtc", "", 0},
		{"client_secret_jwt with client_id", formCreds(func() url.Values {
			f := assertionForm(hs(nil))
			f.Set("client_id", "jwtc")
			return f
		}()), "jwtc", "", 0},
		{"private_key_jwt", formCreds(assertionForm(es(nil))), "pkjwt", "", 0},
		{"private_key_jwt aud issuer", formCreds(assertionForm(es(map[string]any{"aud": issuer}))), "pkjwt", "", 0},

		{"basic and post", basic("basic", basicSecret, form("client_secret", basicSecret)), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"post and assertion", formCreds(func() url.Values {
			f := assertionForm(hs(nil))
			f.Set("client_secret", "x")
			return f
		}()), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"basic with other client_id", basic("basic", basicSecret, form("client_id", "post")), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"repeated client_id", formCreds(form("client_id", "public", "client_id", "public")), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"wrong assertion type", formCreds(form("client_assertion_type", "urn:x", "client_assertion", hs(nil))), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"assertion type without assertion", formCreds(form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer)), "", oauth.ErrCodeInvalidRequest, http.StatusBadRequest},

		{"no credentials", formCreds(form()), "", invalidClient, http.StatusUnauthorized},
		{"unknown client", basic("nobody", basicSecret, nil), "", invalidClient, http.StatusUnauthorized},
		{"wrong secret", basic("basic", basicSecret+"x", nil), "", invalidClient, http.StatusUnauthorized},
		{"empty secret", basic("basic", "", nil), "", invalidClient, http.StatusUnauthorized},
		{"expired secret", basic("expired", basicSecret, nil), "", invalidClient, http.StatusUnauthorized},
		{"post on basic client", formCreds(form("client_id", "basic", "client_secret", basicSecret)), "", invalidClient, http.StatusUnauthorized},
		{"basic on post client", basic("post", postSecret, nil), "", invalidClient, http.StatusUnauthorized},
		{"none for confidential client", formCreds(form("client_id", "basic")), "", invalidClient, http.StatusUnauthorized},
		{"secret for public client", basic("public", "", nil), "", invalidClient, http.StatusUnauthorized},
		{"hs assertion wrong secret", formCreds(assertionForm(e.assertion(gojose.HS256, []byte(jwtSecret+"x"), nil, "jwtc"))), "", invalidClient, http.StatusUnauthorized},
		{"hs assertion for private_key_jwt client", formCreds(assertionForm(e.assertion(gojose.HS256, []byte(jwtSecret), nil, "pkjwt"))), "", invalidClient, http.StatusUnauthorized},
		{"assertion wrong aud", formCreds(assertionForm(es(map[string]any{"aud": "https://other.example.com"}))), "", invalidClient, http.StatusUnauthorized},
		{"assertion expired", formCreds(assertionForm(es(map[string]any{"exp": e.now.Add(-2 * time.Minute).Unix()}))), "", invalidClient, http.StatusUnauthorized},
		{"assertion without jti", formCreds(assertionForm(es(map[string]any{"jti": nil}))), "", invalidClient, http.StatusUnauthorized},
		{"assertion iss differs from sub", formCreds(assertionForm(es(map[string]any{"iss": "basic"}))), "", invalidClient, http.StatusUnauthorized},
		{"assertion client_id mismatch", formCreds(func() url.Values {
			f := assertionForm(es(nil))
			f.Set("client_id", "jwtc")
			return f
		}()), "", invalidClient, http.StatusUnauthorized},
		{"garbage assertion", formCreds(assertionForm("a.b.c")), "", invalidClient, http.StatusUnauthorized},
		{"unsigned assertion", formCreds(assertionForm(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"iss":"pkjwt","sub":"pkjwt"}`)) + ".")), "", invalidClient, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := e.svc.AuthenticateClient(t.Context(), tc.creds)
			if tc.wantCode != "" {
				wantOAuthError(t, err, tc.wantCode, tc.wantStatus)
				return
			}
			if err != nil {
				t.Fatalf("AuthenticateClient: %v", err)
			}
			if c.ID != tc.wantClient {
				t.Fatalf("client = %q, want %q", c.ID, tc.wantClient)
			}
		})
	}
}

func TestAssertionReplay(t *testing.T) {
	e := newEnv(t)
	a := e.assertion(gojose.ES256, e.clientKey, nil, "pkjwt")
	creds := formCreds(form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a))
	if _, err := e.svc.AuthenticateClient(t.Context(), creds); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := e.svc.AuthenticateClient(t.Context(), creds)
	wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)

	// Another client may use the same jti: the replay key is per client.
	b := e.assertion(gojose.HS256, []byte(jwtSecret), map[string]any{"jti": "shared"}, "jwtc")
	c := e.assertion(gojose.ES256, e.clientKey, map[string]any{"jti": "shared"}, "pkjwt")
	for _, a := range []string{b, c} {
		if _, err := e.svc.AuthenticateClient(t.Context(), formCreds(form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a))); err != nil {
			t.Fatalf("jti shared across clients: %v", err)
		}
	}
}

// TestLongLivedAssertionNotReplayable: the jti replay cache forgets a jti
// after a while, so an assertion must not outlive its entry. A 24-hour
// assertion is refused outright, and one at the limit stays refused as a
// replay for as long as it is accepted at all.
func TestLongLivedAssertionNotReplayable(t *testing.T) {
	e := newEnv(t)
	start := e.now
	t.Cleanup(func() { e.now = start })
	creds := func(a string) Credentials {
		return formCreds(form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a))
	}
	for _, tc := range []struct {
		name  string
		alg   gojose.SignatureAlgorithm
		key   any
		id    string
		claim map[string]any
	}{
		{"private_key_jwt exp 24h ahead", gojose.ES256, e.clientKey, "pkjwt", map[string]any{"exp": start.Add(24 * time.Hour).Unix()}},
		{"client_secret_jwt exp 24h ahead", gojose.HS256, []byte(jwtSecret), "jwtc", map[string]any{"exp": start.Add(24 * time.Hour).Unix()}},
		{"iat 24h ago", gojose.ES256, e.clientKey, "pkjwt", map[string]any{"iat": start.Add(-24 * time.Hour).Unix(), "exp": start.Add(time.Minute).Unix()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.now = start
			a := e.assertion(tc.alg, tc.key, tc.claim, tc.id)
			// Every retry over the day it claims to be valid is refused.
			for _, after := range []time.Duration{0, 6 * time.Minute, 12 * time.Hour} {
				e.now = start.Add(after)
				_, err := e.svc.AuthenticateClient(t.Context(), creds(a))
				wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
			}
		})
	}

	// An assertion at the limit is refused as a replay until exp + leeway,
	// after which the verifier refuses it anyway. Each replay is tried once,
	// on a fresh assertion: a refused replay may extend the cache entry.
	lifetime := DefaultAssertionMaxAge + jose.AssertionLeeway
	for _, after := range []time.Duration{time.Second, DefaultAssertionMaxAge + time.Second, lifetime, lifetime + jose.AssertionLeeway - time.Second} {
		t.Run("replay at the limit after "+after.String(), func(t *testing.T) {
			e.now = start
			a := e.assertion(gojose.ES256, e.clientKey, map[string]any{"exp": start.Add(lifetime).Unix()}, "pkjwt")
			if _, err := e.svc.AuthenticateClient(t.Context(), creds(a)); err != nil {
				t.Fatalf("first use: %v", err)
			}
			e.now = start.Add(after)
			_, err := e.svc.AuthenticateClient(t.Context(), creds(a))
			wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
		})
	}
}

// TestInvalidClientIsGeneric checks that failures look alike to the client
// and that the log has the reason and correlation ID but never the secret.
func TestInvalidClientIsGeneric(t *testing.T) {
	e := newEnv(t)
	idRE := regexp.MustCompile(`client_auth_id [A-Za-z0-9_-]+`)
	var descs []string
	for _, creds := range []Credentials{
		basic("nobody", basicSecret, nil),
		basic("basic", "wrong-"+basicSecret, nil),
		basic("expired", basicSecret, nil),
	} {
		_, err := e.svc.AuthenticateClient(t.Context(), creds)
		oe := oauth.AsError(err)
		if oe == nil {
			t.Fatalf("got %v, want *oauth.Error", err)
		}
		id := idRE.FindString(oe.Description)
		if id == "" {
			t.Fatalf("description %q lacks a client_auth_id", oe.Description)
		}
		if !strings.Contains(e.logs.String(), strings.TrimPrefix(id, "client_auth_id ")) {
			t.Errorf("log lacks %s:\n%s", id, e.logs)
		}
		descs = append(descs, idRE.ReplaceAllString(oe.Description, "ID"))
	}
	for _, d := range descs[1:] {
		if d != descs[0] {
			t.Errorf("descriptions differ: %q vs %q", d, descs[0])
		}
	}
	for _, s := range []string{basicSecret} {
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("log contains a secret:\n%s", e.logs)
		}
	}
	for _, reason := range []string{"unknown client", "wrong client secret", "client secret expired"} {
		if !strings.Contains(e.logs.String(), reason) {
			t.Errorf("log lacks reason %q", reason)
		}
	}
}

// keyRecorder is the real replay cache, noting the keys it is given.
type keyRecorder struct {
	store.ReplayCache
	mu   sync.Mutex
	keys []string
}

func (r *keyRecorder) MarkUsed(ctx context.Context, key string, until, now time.Time) (bool, error) {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.ReplayCache.MarkUsed(ctx, key, until, now)
}

// Hostile but well-formed jti values (long beyond a PostgreSQL btree entry,
// NUL, non-ASCII) are caught on
// replay, and the replay cache only ever sees their hex SHA-256: the core
// hashes, once, so that no backend has to store client-chosen text.
func TestAssertionReplayKeysAreHashed(t *testing.T) {
	e := newEnv(t)
	rec := &keyRecorder{ReplayCache: e.svc.Replay}
	e.svc.Replay = rec
	hexKey := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, jti := range []string{strings.Repeat("j", 5_000), "a\x00b", "ünïcödé ✓", "client_assertion:pkjwt:x"} {
		a := e.assertion(gojose.ES256, e.clientKey, map[string]any{"jti": jti}, "pkjwt")
		creds := formCreds(form("client_assertion_type", oauth.ClientAssertionTypeJWTBearer, "client_assertion", a))
		if _, err := e.svc.AuthenticateClient(t.Context(), creds); err != nil {
			t.Fatalf("jti of %d bytes, first use: %v", len(jti), err)
		}
		_, err := e.svc.AuthenticateClient(t.Context(), creds)
		wantOAuthError(t, err, oauth.ErrCodeInvalidClient, http.StatusUnauthorized)
	}
	if len(rec.keys) != 8 {
		t.Fatalf("replay cache saw %d keys, want 8", len(rec.keys))
	}
	for _, k := range rec.keys {
		if !hexKey.MatchString(k) {
			t.Errorf("replay cache got key %.80q, want a hex SHA-256", k)
		}
	}
}
