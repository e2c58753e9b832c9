package authz

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	authAlice   = `{"sub":"alice","acr":"silver","amr":["pwd"],"claims":{"ip":"203.0.113.7"},"data":{"name":"Ann"}}`
	consentAll_ = `{"scope":["*"],"claims":["*"]}`
)

// Start → PUT auth → PUT consent with the worked example of
// docs/api.md §3, then the code's grant as the token endpoint sees
// it.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t, Config{})
	m := e.start(query(), "")
	if m.Type != TypeAuth || m.SubSession != nil {
		t.Fatalf("Start = %+v", m)
	}
	sid := m.SID
	m = e.submit(sid, authAlice)
	if m.Type != TypeConsent || m.SID != sid || m.SubSession == nil || m.SubSession.Sub != "alice" {
		t.Fatalf("auth = %+v", m)
	}
	wantScope := &ScopeSplit{New: []string{"openid", "email"}, Consented: []string{}}
	wantClaims := &ClaimsSplit{New: EssVol{Essential: []string{}, Voluntary: []string{"email", "email_verified"}}, Consented: EssVol{Essential: []string{}, Voluntary: []string{}}}
	if d := cmp.Diff(wantScope, m.Scope); d != "" {
		t.Errorf("consent scope (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantClaims, m.Claims); d != "" {
		t.Errorf("consent claims (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{CheckNoAuthz}, m.Reasons); d != "" {
		t.Errorf("consent reasons (-want +got):\n%s", d)
	}
	cookie := m.SubSession.SID
	e.clock.Advance(5 * time.Second)
	final := e.submit(sid, `{"scope":["openid","email"],"claims":["email","email_verified"],"long_lived":true,
		"access_token":{"encoding":"IDENTIFIER","lifetime":900},"refresh_token":{"issue":true,"max_idle":2592000}}`)
	base, v := params(t, final)
	if base != rpCB || v.Get("state") != "st-1" || v.Get("iss") != issuer || len(v.Get("code")) != 43 {
		t.Errorf("final response %q %v", base, v)
	}
	if final.Mode != oauth.ResponseModeQuery || final.SubSID != cookie {
		t.Errorf("final mode %q sub_sid %q, want query and %q", final.Mode, final.SubSID, cookie)
	}
	code := e.consume(final)
	sess, err := e.svc.SubjectSessions.Get(context.Background(), cookie)
	if err != nil {
		t.Fatal(err)
	}
	want := &store.Code{
		ClientID: "web", RedirectURI: rpCB, CodeChallenge: challenge, CodeChallengeMethod: "S256", Nonce: "n-1",
		Grant: store.Grant{
			Subject: "alice", ClientID: "web",
			Consented: store.Consented{Scope: []string{"openid", "email"}, Claims: []string{"email", "email_verified"}},
			Tokens: store.TokenSpec{AccessTokenLifetime: 900 * time.Second, AccessTokenEncoding: "IDENTIFIER", IssueRefreshToken: true,
				RefreshTokenMaxIdle: 30 * 24 * time.Hour, IDTokenLifetime: 300 * time.Second},
			LongLived: true, SubjectSessionID: sess.ID, AuthTime: t0, ACR: "silver", AMR: []string{"pwd"}, CreatedAt: t0.Add(5 * time.Second),
		},
		CreatedAt: t0.Add(5 * time.Second), ExpiresAt: t0.Add(65 * time.Second),
	}
	if d := cmp.Diff(want, code, cmpopts.IgnoreFields(store.Code{}, "ID", "GrantID"), cmpopts.IgnoreFields(store.Grant{}, "ID")); d != "" {
		t.Errorf("code (-want +got):\n%s", d)
	}
	if code.GrantID == "" || code.Grant.ID != code.GrantID {
		t.Errorf("grant ID %q / %q not pre-assigned", code.GrantID, code.Grant.ID)
	}
	if d := cmp.Diff([]string{"web"}, sess.RPs); d != "" {
		t.Errorf("session RPs (-want +got):\n%s", d)
	}
	if strings.Contains(final.Parameters.URI, sess.ID) {
		t.Error("the session key leaked into the redirect")
	}
	auth, err := e.dur.Authorizations.Get(context.Background(), "alice", "web")
	if err != nil || !cmp.Equal(auth.Scope, []string{"openid", "email"}) {
		t.Errorf("long-lived authorisation = %+v, %v", auth, err)
	}
}

func TestResponseModes(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantURI string
	}{
		{"", rpCB + "?code="},
		{"query", rpCB + "?code="},
		{"fragment", rpCB + "#code="},
		{"form_post", rpCB},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newEnv(t, Config{})
			m := e.login(query("response_mode", tc.mode), authAlice, consentAll_)
			if !strings.HasPrefix(m.Parameters.URI, tc.wantURI) {
				t.Errorf("uri %q, want prefix %q", m.Parameters.URI, tc.wantURI)
			}
			_, v := params(t, m)
			if v.Get("code") == "" || v.Get("state") != "st-1" || v.Get("iss") != issuer {
				t.Errorf("parameters %v", v)
			}
			if (tc.mode == "form_post") != (m.Parameters.Form != nil) {
				t.Errorf("form %v for mode %q", m.Parameters.Form, tc.mode)
			}
		})
	}
}

// The redirect_uri the code records is the parameter as sent: empty when
// the request omitted it (RFC 6749 §4.1.3).
func TestCodeRedirectURIOmitted(t *testing.T) {
	e := newEnv(t, Config{})
	m := e.login(query("redirect_uri", "", "scope", "read"), `{"sub":"alice"}`, `{"scope":["read"]}`)
	base, _ := params(t, m)
	if base != rpCB {
		t.Errorf("redirected to %q", base)
	}
	if c := e.consume(m); c.RedirectURI != "" || !cmp.Equal(c.Grant.Scope, []string{"read"}) {
		t.Errorf("code redirect %q scope %v", c.RedirectURI, c.Grant.Scope)
	}
}

// ssoEnv logs alice in once with a long-lived consent for "openid email"
// and returns her session cookie.
func ssoEnv(t *testing.T, cfg Config, longLived bool) (*env, string) {
	return ssoEnvAuth(t, cfg, longLived, authAlice)
}

func ssoEnvAuth(t *testing.T, cfg Config, longLived bool, auth string) (*env, string) {
	e := newEnv(t, cfg)
	ll := ""
	if longLived {
		ll = `,"long_lived":true`
	}
	m := e.login(query(), auth, `{"scope":["*"],"claims":["*"]`+ll+`}`)
	if m.SubSID == "" {
		t.Fatal("no sub_sid after login")
	}
	return e, m.SubSID
}

func TestSSOAndPromptPolicy(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		longLived bool
		advance   time.Duration
		query     func(e *env) string
		cookie    func(c string) string
		wantType  string
		wantError string
		reasons   []string
		auth      string
	}{
		{"SSO with covering consent completes", Config{}, true, 0, nil, nil, TypeResponse, "", nil, ""},
		{"SSO without long-lived consent asks consent", Config{}, false, 0, nil, nil, TypeConsent, "", []string{CheckNoAuthz}, ""},
		{"SSO with wider scope asks consent", Config{}, true, 0, func(*env) string { return query("scope", "openid email phone") }, nil, TypeConsent, "", []string{CheckMissingScope, CheckMissingClaims}, ""},
		{"prompt=consent asks consent", Config{}, true, 0, func(*env) string { return query("prompt", "consent") }, nil, TypeConsent, "", []string{CheckPromptConsent}, ""},
		{"always prompt for consent", Config{AlwaysPromptForConsent: true}, true, 0, nil, nil, TypeConsent, "", []string{CheckAlwaysConsent}, ""},
		{"prompt=none SSO completes", Config{}, true, 0, func(*env) string { return query("prompt", "none") }, nil, TypeResponse, "", nil, ""},
		{"prompt=none consent missing", Config{}, false, 0, func(*env) string { return query("prompt", "none") }, nil, TypeResponse, oauth.ErrCodeConsentRequired, nil, ""},
		{"prompt=none with always-consent still prompts", Config{AlwaysPromptForConsent: true}, true, 0, func(*env) string { return query("prompt", "none") }, nil, TypeConsent, "", []string{CheckAlwaysConsent}, ""},
		{"prompt=none forged cookie", Config{}, true, 0, func(*env) string { return query("prompt", "none") }, func(c string) string { return c + "x" }, TypeResponse, oauth.ErrCodeLoginRequired, nil, ""},
		{"no cookie", Config{}, true, 0, nil, func(string) string { return "" }, TypeAuth, "", []string{CheckNoSession}, ""},
		{"prompt=login", Config{}, true, 0, func(*env) string { return query("prompt", "login") }, nil, TypeAuth, "", []string{CheckPromptLogin}, ""},
		{"prompt=select_account", Config{}, true, 0, func(*env) string { return query("prompt", "select_account") }, nil, TypeAuth, "", []string{CheckPromptLogin}, ""},
		{"max_age exceeded", Config{}, true, time.Minute, func(*env) string { return query("max_age", "30") }, nil, TypeAuth, "", []string{CheckMaxAge}, ""},
		{"max_age satisfied", Config{}, true, time.Minute, func(*env) string { return query("max_age", "10000") }, nil, TypeResponse, "", nil, ""},
		{"max_age zero", Config{}, true, 0, func(*env) string { return query("max_age", "0") }, nil, TypeAuth, "", []string{CheckMaxAge}, ""},
		{"prompt=none max_age exceeded", Config{}, true, time.Minute, func(*env) string { return query("max_age", "1", "prompt", "none") }, nil, TypeResponse, oauth.ErrCodeLoginRequired, nil, ""},
		{"acr step-up", Config{}, true, 0, func(*env) string { return query("acr_values", "gold") }, nil, TypeAuth, "", []string{CheckACR}, ""},
		{"acr satisfied", Config{}, true, 0, func(*env) string { return query("acr_values", "gold silver") }, nil, TypeResponse, "", nil, ""},
		{"essential acr claim", Config{}, true, 0, func(*env) string { return query("claims", `{"id_token":{"acr":{"essential":true,"values":["gold"]}}}`) }, nil, TypeAuth, "", []string{CheckACR}, ""},
		{"id_token_hint same subject", Config{}, true, 0, func(e *env) string { return query("prompt", "none", "id_token_hint", e.idToken(issuer, "alice")) }, nil, TypeResponse, "", nil, ""},
		{"id_token_hint other subject", Config{}, true, 0, func(e *env) string { return query("id_token_hint", e.idToken(issuer, "bob")) }, nil, TypeAuth, "", []string{CheckIDTokenHint}, ""},
		{"auth life expired", Config{}, true, 2 * time.Minute, nil, nil, TypeAuth, "", []string{CheckAuthLife}, `{"sub":"alice","acr":"silver","auth_life":1}`},
		{"session idle expired", Config{}, true, 11 * 24 * time.Hour, nil, nil, TypeAuth, "", []string{CheckNoSession}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.auth == "" {
				tc.auth = authAlice
			}
			e, cookie := ssoEnvAuth(t, tc.cfg, tc.longLived, tc.auth)
			e.clock.Advance(tc.advance)
			q := query()
			if tc.query != nil {
				q = tc.query(e)
			}
			if tc.cookie != nil {
				cookie = tc.cookie(cookie)
			}
			m := e.start(q, cookie)
			if m.Type != tc.wantType {
				t.Fatalf("type %q, want %q: %+v", m.Type, tc.wantType, m)
			}
			if d := cmp.Diff(tc.reasons, m.Reasons); d != "" {
				t.Errorf("reasons (-want +got):\n%s", d)
			}
			if m.Type != TypeResponse {
				return
			}
			_, v := params(t, m)
			if v.Get("error") != tc.wantError {
				t.Errorf("error = %q, want %q", v.Get("error"), tc.wantError)
			}
			if tc.wantError == "" {
				c := e.consume(m)
				if c.Grant.Subject != "alice" || !c.Grant.AuthTime.Equal(t0) || c.Grant.SubjectSessionID == "" {
					t.Errorf("SSO grant %+v", c.Grant)
				}
				if m.SubSID != "" {
					t.Errorf("sub_sid %q on SSO: no session was created", m.SubSID)
				}
			}
		})
	}
}

func TestSubjectAuthentication(t *testing.T) {
	t.Run("id_token_hint subject mismatch", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query("id_token_hint", e.idToken(issuer, "bob")), "")
		_, v := params(t, e.submit(m.SID, authAlice))
		if v.Get("error") != oauth.ErrCodeLoginRequired || v.Get("state") != "st-1" {
			t.Errorf("got %v, want login_required redirect", v)
		}
	})
	t.Run("essential acr not met", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query("claims", `{"id_token":{"acr":{"essential":true,"value":"gold"}}}`), "")
		_, v := params(t, e.submit(m.SID, authAlice))
		if v.Get("error") != oauth.ErrCodeAccessDenied {
			t.Errorf("got %v, want access_denied", v)
		}
	})
	t.Run("voluntary acr not met proceeds", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query("client_id", "acr"), "")
		if m := e.submit(m.SID, authAlice); m.Type != TypeConsent {
			t.Errorf("got %+v, want consent", m)
		}
	})
	t.Run("another subject replaces the session", func(t *testing.T) {
		e, cookie := ssoEnv(t, Config{}, true)
		m := e.start(query("prompt", "login"), cookie)
		m = e.submit(m.SID, `{"sub":"bob"}`)
		if m.Type != TypeConsent || m.SubSession.Sub != "bob" || m.SubSession.SID == cookie {
			t.Fatalf("got %+v", m)
		}
		if _, err := e.svc.SubjectSessions.Get(context.Background(), cookie); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("alice's session survived: %v", err)
		}
	})
	t.Run("same subject keeps the session", func(t *testing.T) {
		e, cookie := ssoEnv(t, Config{}, true)
		e.clock.Advance(time.Hour)
		m := e.start(query("prompt", "login"), cookie)
		m = e.submit(m.SID, `{"sub":"alice","acr":"gold"}`)
		_, v := params(t, m)
		if m.SubSID != cookie || v.Get("code") == "" {
			t.Fatalf("got %+v, want response with the same sub_sid", m)
		}
		if c := e.consume(m); !c.Grant.AuthTime.Equal(t0.Add(time.Hour)) || c.Grant.ACR != "gold" {
			t.Errorf("re-authentication not recorded: %+v", c.Grant)
		}
	})
	t.Run("auth_time in the past and lifetimes", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query(), "")
		m = e.submit(m.SID, `{"sub":"alice","auth_time":`+itoa(t0.Add(-time.Minute).Unix())+`,"max_life":60,"auth_life":-1}`)
		want := session.SessionView{SID: m.SubSession.SID, Sub: "alice", AuthTime: t0.Add(-time.Minute).Unix(), CreationTime: t0.Unix(), MaxLife: 60, AuthLife: -1, MaxIdle: 14400, Ctx: "web"}
		if d := cmp.Diff(want, *m.SubSession); d != "" {
			t.Errorf("sub_session (-want +got):\n%s", d)
		}
	})
	for _, body := range []string{`{"sub":"alice","auth_time":` + itoa(t0.Add(time.Hour).Unix()) + `}`, `{"sub":""}`, `{"sub":5}`} {
		t.Run("rejects "+body, func(t *testing.T) {
			e := newEnv(t, Config{})
			m := e.start(query(), "")
			_, err := submitJSON(context.Background(), e.svc, m.SID, body)
			if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
				t.Errorf("err = %v, want invalid_request 400", err)
			}
			if obj, _ := e.svc.Get(context.Background(), m.SID); obj.State != store.AuthzStateAuthPending {
				t.Errorf("state %q after a rejected submission", obj.State)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
