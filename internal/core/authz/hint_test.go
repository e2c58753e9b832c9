package authz

import (
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
)

// hint signs a token with our keys, as the hint of a request by client
// "web"; it expired an hour ago unless exp says otherwise.
func (e *env) hint(typ string, claims map[string]any) string {
	e.t.Helper()
	c := map[string]any{"iss": issuer, "sub": "alice", "exp": t0.Add(-time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	tok, err := e.keys.Sign("RS256", typ, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// TestIDTokenHintMustBeOurIDTokenForTheClient: an id_token_hint is only
// accepted when it is an ID token we issued to the requesting client (typ
// JWT or none, aud naming the client), expired or not. Anything else —
// an access token (typ at+jwt), an ID token of another client — gives no
// required_sub but invalid_request, or login_required under prompt=none.
func TestIDTokenHintMustBeOurIDTokenForTheClient(t *testing.T) {
	e := newEnv(t, Config{})
	accessTokenClaims := map[string]any{"aud": []string{issuer}, "client_id": "web", "scope": "openid", "jti": "at-1", "exp": t0.Add(time.Minute).Unix()}
	for _, tc := range []struct {
		name string
		hint string
		ok   bool
	}{
		{"expired ID token", e.hint("JWT", map[string]any{"aud": "web"}), true},
		{"ID token without typ, aud array", e.hint("", map[string]any{"aud": []string{"other", "web"}}), true},
		{"ID token typ application/jwt", e.hint("application/jwt", map[string]any{"aud": "web"}), true},

		{"access token as minted", e.hint("at+jwt", accessTokenClaims), false},
		{"access token with the client as aud", e.hint("at+jwt", map[string]any{"aud": []string{"web"}}), false},
		{"access token typ application/at+jwt", e.hint("application/at+jwt", map[string]any{"aud": "web"}), false},
		{"other typ", e.hint("logout+jwt", map[string]any{"aud": "web"}), false},
		{"ID token of another client", e.hint("JWT", map[string]any{"aud": "multi"}), false},
		{"ID token without aud", e.hint("JWT", map[string]any{"aud": nil}), false},
		{"aud not a string", e.hint("JWT", map[string]any{"aud": 7}), false},
		{"garbage", "abc.def.ghi", false},
	} {
		for _, prompt := range []string{"", oauth.PromptNone} {
			t.Run(tc.name+" prompt="+prompt, func(t *testing.T) {
				m := e.start(query("id_token_hint", tc.hint, "prompt", prompt), "")
				if tc.ok {
					// Without a session, prompt=none answers login_required
					// for the missing session, not for the hint.
					if prompt == "" && (m.Type != TypeAuth || m.RequiredSub != "alice") {
						t.Errorf("got %+v, want an auth prompt with required_sub alice", m)
					}
					return
				}
				if m.Type != TypeResponse || m.RequiredSub != "" {
					t.Fatalf("got %+v, want an error response", m)
				}
				want := oauth.ErrCodeInvalidRequest
				if prompt == oauth.PromptNone {
					want = oauth.ErrCodeLoginRequired
				}
				if _, v := params(t, m); v.Get("error") != want || v.Get("error_description") != "invalid id_token_hint" {
					t.Errorf("error %q (%q), want %s", v.Get("error"), v.Get("error_description"), want)
				}
			})
		}
	}
}
