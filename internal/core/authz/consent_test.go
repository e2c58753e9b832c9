package authz

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func TestConsentSubmission(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		name    string
		client  string
		query   string
		consent string
		want    store.Consented
		tokens  store.TokenSpec
	}{
		{"star grants all requested", "web", query(), `{"scope":["*"],"claims":["*"]}`,
			store.Consented{Scope: []string{"openid", "email"}, Claims: []string{"email", "email_verified"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second}},
		{"scope cut to requested", "web", query(), `{"scope":["openid","admin"],"claims":["email"]}`,
			store.Consented{Scope: []string{"openid"}, Claims: []string{"email"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second}},
		{"empty consent", "web", query(), `{}`,
			store.Consented{Scope: []string{}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second}},
		{"id token claims folded", "web", query("claims", `{"id_token":{"name":{"essential":true}},"userinfo":{"email":null}}`), `{"scope":["*"],"claims":["*","id_token:email_verified"]}`,
			store.Consented{Scope: []string{"openid", "email"}, Claims: []string{"id_token:email_verified", "id_token:name", "email", "email_verified"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second}},
		{"offline_access issues refresh token", "web", query("scope", "openid offline_access"), `{"scope":["*"]}`,
			store.Consented{Scope: []string{"openid", "offline_access"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second, IssueRefreshToken: true}},
		{"plain OAuth with refresh grant issues refresh token", "web", query("scope", "read"), `{"scope":["*"]}`,
			store.Consented{Scope: []string{"read"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second, IssueRefreshToken: true}},
		{"no refresh grant no refresh token", "nort", query("client_id", "nort", "scope", "openid offline_access"), `{"scope":["*"]}`,
			store.Consented{Scope: []string{"openid", "offline_access"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second}},
		{"public client rotates", "pub", query("client_id", "pub", "redirect_uri", "http://127.0.0.1/cb", "scope", "read"), `{"scope":["*"]}`,
			store.Consented{Scope: []string{"read"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second, IssueRefreshToken: true, RotateRefreshToken: true}},
		{"public client rotates even when the consent says not to", "pub", query("client_id", "pub", "redirect_uri", "http://127.0.0.1/cb", "scope", "read"),
			`{"scope":["*"],"refresh_token":{"rotate":false}}`,
			store.Consented{Scope: []string{"read"}},
			store.TokenSpec{AccessTokenLifetime: 600 * time.Second, AccessTokenEncoding: oauth.TokenEncodingSelfContained, IDTokenLifetime: 300 * time.Second, IssueRefreshToken: true, RotateRefreshToken: true}},
		{"overrides and extras", "web", query(), `{"scope":["openid"],"audience":["api"],"claims_data":{"k":"v"},"data":{"d":1},
			"preset_claims":{"id_token":{"x":"1"},"userinfo":{"y":"2"}},
			"access_token":{"lifetime":60,"encoding":"IDENTIFIER"},"refresh_token":{"issue":true,"lifetime":86400,"max_idle":3600,"rotate":true},"id_token":{"lifetime":120,"allow_refresh":true}}`,
			store.Consented{Scope: []string{"openid"}, Audience: []string{"api"}, ClaimsData: map[string]any{"k": "v"}, Data: map[string]any{"d": 1.0},
				PresetIDTokenClaims: map[string]any{"x": "1"}, PresetUserInfoClaims: map[string]any{"y": "2"}},
			store.TokenSpec{AccessTokenLifetime: time.Minute, AccessTokenEncoding: oauth.TokenEncodingIdentifier, IssueRefreshToken: true,
				RefreshTokenLifetime: day, RefreshTokenMaxIdle: time.Hour, RotateRefreshToken: true, IDTokenLifetime: 2 * time.Minute, AllowIDTokenRefresh: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			c := e.consume(e.login(tc.query, `{"sub":"alice"}`, tc.consent))
			if d := cmp.Diff(tc.want, c.Grant.Consented, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("consented (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.tokens, c.Grant.Tokens); d != "" {
				t.Errorf("tokens (-want +got):\n%s", d)
			}
			if c.Grant.LongLived {
				t.Error("transient consent marked long-lived")
			}
		})
	}
}

func TestLongLivedConsentMerges(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.login(query("scope", "openid email"), `{"sub":"alice"}`, `{"scope":["*"],"claims":["*"],"long_lived":true}`)
	e.login(query("scope", "openid phone", "prompt", "consent"), `{"sub":"alice"}`, `{"scope":["*"],"claims":["*"],"long_lived":true}`)
	a, err := e.dur.Authorizations.Get(ctx, "alice", "web")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"openid", "email", "phone"}, a.Scope); d != "" {
		t.Errorf("merged scope (-want +got):\n%s", d)
	}
	// A later request covered by the stored consent shows it as consented.
	m := e.start(query("scope", "openid email profile"), "")
	m = e.submit(m.SID, `{"sub":"alice"}`)
	if d := cmp.Diff(&ScopeSplit{New: []string{"profile"}, Consented: []string{"openid", "email"}}, m.Scope); d != "" {
		t.Errorf("scope split (-want +got):\n%s", d)
	}
	if m.Claims.Consented.Voluntary[0] != "email" || len(m.Claims.New.Voluntary) == 0 {
		t.Errorf("claims split %+v", m.Claims)
	}
	// A covered request after a fresh login goes straight to the response,
	// with the requested scope only.
	m = e.start(query("scope", "openid phone"), "")
	m = e.submit(m.SID, `{"sub":"alice"}`)
	c := e.consume(m)
	if !cmp.Equal(c.Grant.Scope, []string{"openid", "phone"}) || !cmp.Equal(c.Grant.Claims, []string{"phone_number", "phone_number_verified"}) || !c.Grant.LongLived {
		t.Errorf("grant from stored consent %+v", c.Grant)
	}
}
