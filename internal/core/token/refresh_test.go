package token

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func refreshForm(rt string, kv ...string) Credentials {
	f := form("grant_type", "refresh_token", "refresh_token", rt)
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return basic("basic", basicSecret, f)
}

func TestRefreshNonRotating(t *testing.T) {
	e := newEnv(t)
	first := e.redeem(codeOpts{nonce: "n1"})
	firstID, _ := e.payload(first.IDToken)
	e.now = e.now.Add(time.Minute)

	resp, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.AccessToken == first.AccessToken {
		t.Error("refresh returned the same access token")
	}
	if resp.RefreshToken != "" {
		t.Errorf("non-rotating refresh returned a refresh token")
	}
	if resp.ExpiresIn != 600 || resp.Scope != first.Scope {
		t.Errorf("expires_in %d scope %q", resp.ExpiresIn, resp.Scope)
	}
	idt, _ := e.payload(resp.IDToken)
	for _, c := range []string{"iss", "sub", "aud", "azp", "auth_time", "sid", "acr", "email_verified"} {
		if !cmp.Equal(idt[c], firstID[c]) {
			t.Errorf("refreshed id token %s = %v, first had %v", c, idt[c], firstID[c])
		}
	}
	for _, c := range []string{"nonce", "group"} {
		if _, ok := idt[c]; ok {
			t.Errorf("refreshed id token carries %s", c)
		}
	}
	if rt := e.refreshToken(first.RefreshToken); !rt.LastUsedAt.Equal(e.now) {
		t.Errorf("last use not recorded: %v", rt.LastUsedAt)
	}
	// Still usable.
	if _, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken)); err != nil {
		t.Fatalf("second refresh: %v", err)
	}
}

func TestRefreshIDTokenPolicy(t *testing.T) {
	tests := []struct {
		name   string
		allow  bool
		scope  []string
		narrow string
		want   bool
	}{
		{"allowed", true, nil, "", true},
		{"allowed, narrowed without openid", true, nil, "email", true},
		{"not allowed", false, nil, "", false},
		{"no openid in grant", true, []string{"api", "offline_access"}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			spec := store.TokenSpec{IssueRefreshToken: true, AllowIDTokenRefresh: tc.allow}
			first := e.redeem(codeOpts{tokens: &spec, scope: tc.scope})
			var kv []string
			if tc.narrow != "" {
				kv = []string{"scope", tc.narrow}
			}
			resp, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken, kv...))
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.IDToken != ""; got != tc.want {
				t.Errorf("id token issued = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	spec := store.TokenSpec{IssueRefreshToken: true, RotateRefreshToken: true, RefreshTokenLifetime: time.Hour}
	first := e.redeem(codeOpts{tokens: &spec})
	e.now = e.now.Add(10 * time.Minute)

	second, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Fatalf("rotation returned refresh token %q", second.RefreshToken)
	}
	// Rotation keeps the family's expiry.
	if second.RefreshTokenExpiresIn != 50*60 || second.ExpiresIn != 600 {
		t.Errorf("refresh_token_expires_in %d expires_in %d", second.RefreshTokenExpiresIn, second.ExpiresIn)
	}
	third, err := e.svc.Token(t.Context(), refreshForm(second.RefreshToken))
	if err != nil {
		t.Fatalf("refresh with successor: %v", err)
	}

	// Only the latest rotated generation is kept (the store deletes older
	// ones at each rotation): the first token is now unknown.
	_, err = e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	// Replay of the rotated predecessor revokes the family.
	_, err = e.svc.Token(t.Context(), refreshForm(second.RefreshToken))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	_, err = e.svc.Token(t.Context(), refreshForm(third.RefreshToken))
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	_, err = e.svc.UserInfo(t.Context(), third.AccessToken)
	wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
	if len(e.grants()) != 0 {
		t.Errorf("grant survived the replay")
	}
}

func TestRotatedReuseGrace(t *testing.T) {
	tests := []struct {
		name     string
		after    time.Duration
		wantOK   bool
		survives bool
	}{
		{"within grace", 3 * time.Second, true, true},
		{"after grace", 6 * time.Second, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc.Config.RotatedReuseGrace = 5 * time.Second
			spec := store.TokenSpec{IssueRefreshToken: true, RotateRefreshToken: true}
			first := e.redeem(codeOpts{tokens: &spec})
			second, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
			if err != nil {
				t.Fatal(err)
			}
			e.now = e.now.Add(tc.after)
			retry, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
			if !tc.wantOK {
				wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
			} else if err != nil || retry.RefreshToken == "" || retry.RefreshToken == second.RefreshToken {
				t.Fatalf("retry within grace: %+v, %v", retry, err)
			}
			_, err = e.svc.Token(t.Context(), refreshForm(second.RefreshToken))
			if survives := err == nil; survives != tc.survives {
				t.Errorf("successor usable = %v (%v), want %v", survives, err, tc.survives)
			}
		})
	}
}

func TestRefreshErrors(t *testing.T) {
	tests := []struct {
		name  string
		spec  store.TokenSpec
		run   func(t *testing.T, e *env, rt string) error
		code  string
		state int
	}{
		{"unknown token", store.TokenSpec{IssueRefreshToken: true}, func(t *testing.T, e *env, _ string) error {
			_, err := e.svc.Token(t.Context(), refreshForm("nope"))
			return err
		}, oauth.ErrCodeInvalidGrant, http.StatusBadRequest},
		{"another client's token", store.TokenSpec{IssueRefreshToken: true}, func(t *testing.T, e *env, rt string) error {
			_, err := e.svc.Token(t.Context(), basic("basic2", basicSecret, form("grant_type", "refresh_token", "refresh_token", rt)))
			return err
		}, oauth.ErrCodeInvalidGrant, http.StatusBadRequest},
		{"expired", store.TokenSpec{IssueRefreshToken: true, RefreshTokenLifetime: time.Hour}, func(t *testing.T, e *env, rt string) error {
			e.now = e.now.Add(time.Hour)
			_, err := e.svc.Token(t.Context(), refreshForm(rt))
			return err
		}, oauth.ErrCodeInvalidGrant, http.StatusBadRequest},
		{"idle too long", store.TokenSpec{IssueRefreshToken: true, RefreshTokenMaxIdle: time.Hour}, func(t *testing.T, e *env, rt string) error {
			e.now = e.now.Add(time.Hour + time.Second)
			_, err := e.svc.Token(t.Context(), refreshForm(rt))
			return err
		}, oauth.ErrCodeInvalidGrant, http.StatusBadRequest},
		{"grant revoked", store.TokenSpec{IssueRefreshToken: true}, func(t *testing.T, e *env, rt string) error {
			if err := e.st.Grants.Delete(t.Context(), e.refreshToken(rt).GrantID); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.Token(t.Context(), refreshForm(rt))
			return err
		}, oauth.ErrCodeInvalidGrant, http.StatusBadRequest},
		{"scope widened", store.TokenSpec{IssueRefreshToken: true}, func(t *testing.T, e *env, rt string) error {
			_, err := e.svc.Token(t.Context(), refreshForm(rt, "scope", "openid admin"))
			return err
		}, oauth.ErrCodeInvalidScope, http.StatusBadRequest},
		{"scope empty", store.TokenSpec{IssueRefreshToken: true}, func(t *testing.T, e *env, rt string) error {
			_, err := e.svc.Token(t.Context(), refreshForm(rt, "scope", " "))
			return err
		}, oauth.ErrCodeInvalidScope, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			first := e.redeem(codeOpts{tokens: &tc.spec})
			wantOAuthError(t, tc.run(t, e, first.RefreshToken), tc.code, tc.state)
		})
	}
}

func TestRefreshIdleWindowRenews(t *testing.T) {
	e := newEnv(t)
	spec := store.TokenSpec{IssueRefreshToken: true, RefreshTokenMaxIdle: time.Hour}
	first := e.redeem(codeOpts{tokens: &spec})
	for range 3 {
		e.now = e.now.Add(50 * time.Minute)
		if _, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken)); err != nil {
			t.Fatalf("use within idle window: %v", err)
		}
	}
}

func TestRefreshNarrowsScope(t *testing.T) {
	e := newEnv(t)
	first := e.redeem(codeOpts{})
	resp, err := e.svc.Token(t.Context(), refreshForm(first.RefreshToken, "scope", "email openid"))
	if err != nil {
		t.Fatal(err)
	}
	at, _ := e.payload(resp.AccessToken)
	if resp.Scope != "email openid" || at["scope"] != "email openid" {
		t.Errorf("scope %q, token scope %v", resp.Scope, at["scope"])
	}
	// The grant keeps its scope: a later refresh may ask for all of it.
	resp, err = e.svc.Token(t.Context(), refreshForm(first.RefreshToken))
	if err != nil || resp.Scope != first.Scope {
		t.Fatalf("full scope after narrowing: %q, %v", resp.Scope, err)
	}
}
