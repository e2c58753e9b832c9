package authz

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
)

// Errors before the redirect URI is verified are shown, never redirected.
func TestNonRedirectableErrors(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tc := range []struct {
		name, query, code string
	}{
		{"empty query", "", oauth.ErrCodeInvalidRequest},
		{"missing client_id", query("client_id", ""), oauth.ErrCodeInvalidRequest},
		{"repeated client_id", query() + "&client_id=web", oauth.ErrCodeInvalidRequest},
		{"unknown client", query("client_id", "nobody"), oauth.ErrCodeInvalidClient},
		{"missing redirect_uri for openid", query("redirect_uri", ""), oauth.ErrCodeInvalidRequest},
		{"missing redirect_uri with several registered", query("client_id", "multi", "redirect_uri", "", "scope", "x"), oauth.ErrCodeInvalidRequest},
		{"unregistered redirect_uri", query("redirect_uri", "https://evil.example/cb"), oauth.ErrCodeInvalidRequest},
		{"registered base plus path", query("redirect_uri", rpCB+"/callback/abcdefghij"), oauth.ErrCodeInvalidRequest},
		{"redirect_uri with extra query", query("redirect_uri", rpCB+"?x=1"), oauth.ErrCodeInvalidRequest},
		{"repeated redirect_uri", query() + "&redirect_uri=" + rpCB, oauth.ErrCodeInvalidRequest},
		{"web client loopback any port not allowed", query("client_id", "web", "redirect_uri", "http://127.0.0.1:4000/cb"), oauth.ErrCodeInvalidRequest},
		{"native loopback other path", query("client_id", "pub", "redirect_uri", "http://127.0.0.1:4000/other"), oauth.ErrCodeInvalidRequest},
		{"unknown pushed request_uri", query("request_uri", parRequestURIPrefix+"nope"), oauth.ErrCodeInvalidRequestURI},
		{"empty pushed request_uri reference", query("request_uri", parRequestURIPrefix), oauth.ErrCodeInvalidRequestURI},
		{"over-long query", "client_id=web&x=" + strings.Repeat("a", maxQueryLen), oauth.ErrCodeInvalidRequest},
		// The redirect URI may be inside a request object: request object
		// errors come before it is known (RFC 9101 §6).
		{"request object without a verifier", query("request", "eyJhbGciOiJub25lIn0.e30."), oauth.ErrCodeRequestNotSupported},
		{"remote request_uri without a fetcher", query("request_uri", "https://rp.example.com/req.jwt"), oauth.ErrCodeRequestURINotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.start(tc.query, "")
			if m.Type != TypeError || m.Error != tc.code || m.Parameters != nil {
				t.Errorf("got %+v, want type error with %s and no redirect", m, tc.code)
			}
		})
	}
}

// Errors after the redirect URI is verified go to the client with state and
// iss, in the requested response mode.
func TestRedirectedErrors(t *testing.T) {
	e := newEnv(t, Config{})
	hintOther := e.idToken("https://other.example", "alice")
	for _, tc := range []struct {
		name, query, code string
		noState           bool
		mode              string
	}{
		{"missing response_type", query("response_type", ""), oauth.ErrCodeInvalidRequest, false, "query"},
		{"response_type token", query("response_type", "token"), oauth.ErrCodeUnsupportedResponseType, false, "fragment"},
		{"response_type garbage", query("response_type", "foo"), oauth.ErrCodeUnsupportedResponseType, false, "query"},
		{"hybrid not registered", query("response_type", "code id_token"), oauth.ErrCodeUnauthorizedClient, false, "fragment"},
		{"code not registered", query("client_id", "hybrid"), oauth.ErrCodeUnauthorizedClient, false, "query"},
		{"response_mode unknown", query("response_mode", "jwt"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"form_post error", query("response_mode", "form_post", "response_type", ""), oauth.ErrCodeInvalidRequest, false, "form_post"},
		{"fragment error", query("response_mode", "fragment", "prompt", "bogus"), oauth.ErrCodeInvalidRequest, false, "fragment"},
		{"illegal scope character", query("scope", "openid em\"ail"), oauth.ErrCodeInvalidScope, false, "query"},
		{"repeated state", query() + "&state=again", oauth.ErrCodeInvalidRequest, true, "query"},
		{"repeated scope", query() + "&scope=openid", oauth.ErrCodeInvalidRequest, false, "query"},
		{"PAR required", query("client_id", "par"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"public client without PKCE", query("client_id", "pub", "redirect_uri", "http://127.0.0.1/cb", "code_challenge", "", "code_challenge_method", ""), oauth.ErrCodeInvalidRequest, false, "query"},
		{"forced PKCE missing", query("client_id", "forced", "code_challenge", "", "code_challenge_method", ""), oauth.ErrCodeInvalidRequest, false, "query"},
		{"method without challenge", query("code_challenge", ""), oauth.ErrCodeInvalidRequest, false, "query"},
		{"plain not allowed", query("code_challenge_method", "plain"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"plain by default not allowed", query("code_challenge_method", ""), oauth.ErrCodeInvalidRequest, false, "query"},
		{"unknown PKCE method", query("code_challenge_method", "S512"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"challenge too short", query("code_challenge", "abc"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"challenge too long", query("code_challenge", strings.Repeat("a", 129)), oauth.ErrCodeInvalidRequest, false, "query"},
		{"challenge illegal character", query("code_challenge", strings.Repeat("a", 42)+"+"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"dpop_jkt too short", query("dpop_jkt", "abc"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"dpop_jkt illegal character", query("dpop_jkt", strings.Repeat("a", 42)+"="), oauth.ErrCodeInvalidRequest, false, "query"},
		{"prompt none with login", query("prompt", "none login"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"prompt create with consent", query("prompt", "create consent"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"prompt unknown", query("prompt", "bogus"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"max_age negative", query("max_age", "-1"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"max_age not a number", query("max_age", "ten"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"max_age signed", query("max_age", "+5"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"max_age overflow", query("max_age", "99999999999999999999"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"display unknown", query("display", "tv"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"claims not JSON", query("claims", "{"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"claims member malformed", query("claims", `{"userinfo":[1]}`), oauth.ErrCodeInvalidRequest, false, "query"},
		{"id_token_hint garbage", query("id_token_hint", "abc.def.ghi"), oauth.ErrCodeInvalidRequest, false, "query"},
		{"id_token_hint other issuer", query("id_token_hint", hintOther), oauth.ErrCodeInvalidRequest, false, "query"},
		{"prompt none without session", query("prompt", "none"), oauth.ErrCodeLoginRequired, false, "query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.start(tc.query, "")
			if m.Mode != tc.mode {
				t.Errorf("mode = %q, want %q", m.Mode, tc.mode)
			}
			base, v := params(t, m)
			if base != rpCB && !strings.HasPrefix(base, "http://127.0.0.1/cb") {
				t.Errorf("redirected to %q", base)
			}
			want := map[string]string{"error": tc.code, "state": "st-1", "iss": issuer}
			if tc.noState {
				delete(want, "state")
			}
			got := map[string]string{}
			for k := range v {
				if k != "error_description" {
					got[k] = v.Get(k)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("response parameters (-want +got):\n%s", d)
			}
			if d := v.Get("error_description"); !oauth.ValidErrorCode(d) || strings.ContainsAny(d, "\r\n\t") {
				t.Errorf("error_description %q has illegal characters", d)
			}
			if m.SubSID != "" {
				t.Errorf("sub_sid %q on a request error", m.SubSID)
			}
		})
	}
}

// Requests that must be accepted reach the authentication prompt.
func TestAcceptedRequests(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		query string
		check func(t *testing.T, m *Message, e *env)
	}{
		{"unknown parameter ignored", Config{}, query("extra", "foobar"), nil},
		{"illegal escape ignored", Config{}, query() + "&bad=%zz", nil},
		{"semicolon pair ignored", Config{}, query() + "&a=1;b=2", nil},
		{"leading question mark", Config{}, "?" + query(), nil},
		{"empty value is omitted", Config{}, query() + "&display=", nil},
		{"parameters reordered", Config{}, "state=st-1&scope=email+openid&redirect_uri=" + rpCB + "&client_id=web&response_type=code&code_challenge=" + challenge + "&code_challenge_method=S256", nil},
		{"long state", Config{}, query("state", strings.Repeat("s", 2000)), nil},
		{"no redirect_uri for OAuth client with one URI", Config{}, query("redirect_uri", "", "scope", "read"), nil},
		{"no PKCE for confidential client", Config{}, query("code_challenge", "", "code_challenge_method", ""), nil},
		{"plain PKCE when allowed", Config{AllowPlainPKCE: true}, query("code_challenge_method", "plain", "code_challenge", verifier), nil},
		{"native loopback any port", Config{}, query("client_id", "pub", "redirect_uri", "http://127.0.0.1:53412/cb"), nil},
		{"native custom scheme", Config{}, query("client_id", "pub", "redirect_uri", "com.example.app:/cb"), nil},
		{"prompt values deduplicated", Config{}, query("prompt", "login login"), func(t *testing.T, m *Message, e *env) {
			obj, err := e.svc.Get(t.Context(), m.SID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"login"}, obj.AuthReq.Prompt); d != "" {
				t.Error(d)
			}
		}},
		{"auth prompt members", Config{}, query("display", "popup", "login_hint", "alice@example.com", "acr_values", "gold silver", "max_age", "0", "ui_locales", "se en", "prompt", "select_account"),
			func(t *testing.T, m *Message, _ *env) {
				yes, no := true, false
				want := &Message{Type: TypeAuth, SID: m.SID, Display: "popup", SelectAccount: &yes, CreateAccount: &no,
					LoginHint: "alice@example.com", ACRValues: []string{"gold", "silver"}, MaxAge: new(int64), UILocales: []string{"se", "en"},
					Client:  &ClientInfo{ClientID: "web", ClientType: "confidential", ApplicationType: "web", Name: "Web App"},
					Reasons: []string{CheckNoSession, CheckPromptLogin}}
				if d := cmp.Diff(want, m); d != "" {
					t.Errorf("auth prompt (-want +got):\n%s", d)
				}
			}},
		{"prompt create", Config{}, query("prompt", "create"), func(t *testing.T, m *Message, _ *env) {
			if m.CreateAccount == nil || !*m.CreateAccount {
				t.Errorf("create_account not set: %+v", m)
			}
		}},
		{"scope limited to registered", Config{LimitToRegisteredScope: true}, query("client_id", "scoped", "scope", "openid email phone"), func(t *testing.T, m *Message, e *env) {
			obj, _ := e.svc.Get(t.Context(), m.SID)
			if d := cmp.Diff([]string{"openid", "email"}, obj.AuthReq.Scope); d != "" {
				t.Errorf("scope (-want +got):\n%s", d)
			}
		}},
		{"scope not limited when off", Config{}, query("client_id", "scoped", "scope", "openid email phone"), func(t *testing.T, m *Message, e *env) {
			obj, _ := e.svc.Get(t.Context(), m.SID)
			if d := cmp.Diff([]string{"openid", "email", "phone"}, obj.AuthReq.Scope); d != "" {
				t.Errorf("scope (-want +got):\n%s", d)
			}
		}},
		{"valid id_token_hint sets required_sub", Config{}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			q := tc.query
			if q == "" {
				q = query("id_token_hint", e.idToken(issuer, "alice"))
				tc.check = func(t *testing.T, m *Message, _ *env) {
					if m.RequiredSub != "alice" {
						t.Errorf("required_sub = %q, want alice", m.RequiredSub)
					}
				}
			}
			m := e.start(q, "")
			if m.Type != TypeAuth || m.SID == "" {
				t.Fatalf("got %+v, want auth prompt", m)
			}
			if tc.check != nil {
				tc.check(t, m, e)
			}
		})
	}
}
