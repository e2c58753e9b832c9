package authz

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// implicitQuery is query() for client "implicit" with response type rt and
// no PKCE (the implicit flow has no code to bind it to).
func implicitQuery(rt string, kv ...string) string {
	return query(append([]string{"client_id", "implicit", "response_type", rt, "code_challenge", "", "code_challenge_method", ""}, kv...)...)
}

// TestImplicitBadInput: each refusal of issue 17's list, with the exact
// error code, redirected in the fragment (the response type's default mode)
// with state and iss.
func TestImplicitBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   Config
		query string
		code  string
		mode  string
	}{
		{"missing nonce id_token", Config{}, implicitQuery("id_token", "nonce", ""), oauth.ErrCodeInvalidRequest, "fragment"},
		{"missing nonce code id_token", Config{}, implicitQuery("code id_token", "nonce", ""), oauth.ErrCodeInvalidRequest, "fragment"},
		{"missing nonce id_token token", Config{}, implicitQuery("id_token token", "nonce", ""), oauth.ErrCodeInvalidRequest, "fragment"},
		{"id_token without openid", Config{}, implicitQuery("id_token", "scope", "email"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"query mode with id_token token", Config{}, implicitQuery("id_token token", "response_mode", "query"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"query mode with id_token", Config{}, implicitQuery("id_token", "response_mode", "query"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"query mode with code token", Config{}, implicitQuery("code token", "response_mode", "query"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"unregistered response type", Config{}, query("response_type", "id_token token"), oauth.ErrCodeUnauthorizedClient, "fragment"},
		{"unregistered hybrid", Config{}, query("client_id", "hybrid", "response_type", "code token"), oauth.ErrCodeUnauthorizedClient, "fragment"},
		{"repeated value", Config{}, implicitQuery("id_token id_token"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"repeated code", Config{}, implicitQuery("code code"), oauth.ErrCodeInvalidRequest, "query"},
		{"repeated in hybrid", Config{}, implicitQuery("code id_token code"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"double space", Config{}, implicitQuery("code  id_token"), oauth.ErrCodeInvalidRequest, "fragment"},
		{"unknown combination", Config{}, implicitQuery("code id_token banana"), oauth.ErrCodeUnsupportedResponseType, "fragment"},
		{"token alone", Config{}, implicitQuery("token"), oauth.ErrCodeUnsupportedResponseType, "fragment"},
		{"none", Config{}, implicitQuery("none"), oauth.ErrCodeUnsupportedResponseType, "query"},
		{"token types off: id_token token", Config{DisallowImplicitAccessTokens: true}, implicitQuery("id_token token"), oauth.ErrCodeUnsupportedResponseType, "fragment"},
		{"token types off: code token", Config{DisallowImplicitAccessTokens: true}, implicitQuery("code token"), oauth.ErrCodeUnsupportedResponseType, "fragment"},
		{"token types off: code id_token token", Config{DisallowImplicitAccessTokens: true}, implicitQuery("token code id_token"), oauth.ErrCodeUnsupportedResponseType, "fragment"},
		{"code_challenge without code", Config{}, implicitQuery("id_token", "code_challenge", challenge, "code_challenge_method", "S256"), oauth.ErrCodeInvalidRequest, "fragment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			m := e.start(tc.query, "")
			if m.Mode != tc.mode {
				t.Errorf("mode = %q, want %q", m.Mode, tc.mode)
			}
			base, v := params(t, m)
			if base != rpCB {
				t.Errorf("redirected to %q", base)
			}
			if v.Get("error") != tc.code || v.Get("state") != "st-1" || v.Get("iss") != issuer {
				t.Errorf("response %v, want error %s with state and iss", v, tc.code)
			}
			for _, k := range []string{"code", "access_token", "id_token"} {
				if v.Has(k) {
					t.Errorf("error response carries %s", k)
				}
			}
		})
	}
}

// TestImplicitBoundClients: a client that requires DPoP- or
// certificate-bound access tokens gets no access token from the
// authorisation endpoint, but still an ID token.
func TestImplicitBoundClients(t *testing.T) {
	for _, bind := range []func(*store.Client){
		func(c *store.Client) { c.Metadata.DPoPBoundAccessTokens = true },
		func(c *store.Client) { c.Metadata.TLSClientCertificateBoundAccessTokens = true },
	} {
		e := newEnv(t, Config{})
		if _, err := e.dur.Clients.Update(context.Background(), "implicit", func(c *store.Client) error { bind(c); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, rt := range []string{"id_token token", "code token", "code id_token token"} {
			_, v := params(t, e.start(implicitQuery(rt), ""))
			if v.Get("error") != oauth.ErrCodeUnauthorizedClient {
				t.Errorf("%s: %v, want unauthorized_client", rt, v)
			}
		}
		if m := e.start(implicitQuery("code id_token"), ""); m.Type != TypeAuth {
			t.Errorf("code id_token: %+v, want the auth prompt", m)
		}
	}
}

// TestImplicitAllowed: with the token-bearing types off, id_token and
// code id_token still work.
func TestImplicitAllowed(t *testing.T) {
	e := newEnv(t, Config{DisallowImplicitAccessTokens: true})
	for _, rt := range []string{"id_token", "code id_token", "id_token code"} {
		if m := e.start(implicitQuery(rt), ""); m.Type != TypeAuth {
			t.Errorf("%s: got %+v, want the auth prompt", rt, m)
		}
	}
}

// fakeClaims answers every claim name with "<name>-value".
type fakeClaims struct{ calls []plugin.ClaimsRequest }

func (f *fakeClaims) Get(_ context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	f.calls = append(f.calls, req)
	out := map[string]any{}
	for _, n := range req.Claims {
		out[n] = n + "-value"
	}
	return out, nil
}

// leftHalf is c_hash / at_hash for RS256 (OIDC Core §3.3.2.11), computed
// here independently of the token core.
func leftHalf(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// TestImplicitAndHybridResponses runs each response type to its final
// response and checks what it carries: the members of OIDC Core §3.2.2.5
// and §3.3.2.5, no refresh token, the ID token's nonce, at_hash and
// c_hash, and the mode.
func TestImplicitAndHybridResponses(t *testing.T) {
	for _, tc := range []struct {
		rt, mode           string
		code, at, idt      bool
		wantMode           string
		claimsInIDTokenToo bool
	}{
		{rt: "id_token", idt: true, wantMode: "fragment", claimsInIDTokenToo: true},
		{rt: "id_token token", at: true, idt: true, wantMode: "fragment"},
		{rt: "token id_token", at: true, idt: true, wantMode: "fragment"},
		{rt: "code id_token", code: true, idt: true, wantMode: "fragment"},
		{rt: "code token", code: true, at: true, wantMode: "fragment"},
		{rt: "code id_token token", code: true, at: true, idt: true, wantMode: "fragment"},
		{rt: "id_token token code", code: true, at: true, idt: true, mode: "form_post", wantMode: "form_post"},
		{rt: "id_token", idt: true, mode: "form_post", wantMode: "form_post", claimsInIDTokenToo: true},
		{rt: "code", code: true, mode: "fragment", wantMode: "fragment"},
	} {
		t.Run(tc.rt+"/"+tc.wantMode, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.withTokens()
			e.svc.Tokens.(*token.Service).Claims = &fakeClaims{}
			q := implicitQuery(tc.rt, "response_mode", tc.mode)
			if tc.code {
				q = query("client_id", "implicit", "response_type", tc.rt, "response_mode", tc.mode)
			}
			m := e.login(q, `{"sub":"alice"}`, `{"scope":["*"],"claims":["email"]}`)
			if m.Mode != tc.wantMode {
				t.Errorf("mode = %q, want %q", m.Mode, tc.wantMode)
			}
			base, v := params(t, m)
			if base != rpCB || v.Get("state") != "st-1" || v.Get("iss") != issuer || v.Has("error") {
				t.Fatalf("final response to %s: %v", base, v)
			}
			if v.Has("code") != tc.code || v.Has("access_token") != tc.at || v.Has("id_token") != tc.idt {
				t.Fatalf("response members %v, want code %v access_token %v id_token %v", v, tc.code, tc.at, tc.idt)
			}
			if v.Has("refresh_token") {
				t.Error("a refresh token from the authorisation endpoint")
			}
			if tc.at {
				if v.Get("token_type") != oauth.TokenTypeBearer || v.Get("expires_in") != "600" {
					t.Errorf("token_type %q expires_in %q, want Bearer and the token endpoint's 600", v.Get("token_type"), v.Get("expires_in"))
				}
				// The access token hangs off a stored grant, so that
				// UserInfo and revocation know it.
				grants, err := e.dur.Grants.List(context.Background(), store.GrantFilter{Subject: "alice"}, e.clock.Now())
				if err != nil || len(grants) != 1 || grants[0].Tokens.IssueRefreshToken {
					t.Errorf("grants for alice: %d (%v), want the front-channel one", len(grants), err)
				}
			}
			if tc.code {
				c := e.consume(m)
				if c.Nonce != "n-1" || c.GrantID == "" {
					t.Errorf("code record: nonce %q grant %q", c.Nonce, c.GrantID)
				}
			}
			if !tc.idt {
				return
			}
			payload, err := e.keys.Verify(v.Get("id_token"), []string{oauth.AlgRS256})
			if err != nil {
				t.Fatalf("ID token: %v", err)
			}
			var idt map[string]any
			if err := json.Unmarshal(payload, &idt); err != nil {
				t.Fatal(err)
			}
			if idt["nonce"] != "n-1" || idt["aud"] == nil || idt["iss"] != issuer || idt["sub"] != "alice" {
				t.Errorf("ID token claims %v", idt)
			}
			if want := tc.at; (idt["at_hash"] != nil) != want || want && idt["at_hash"] != leftHalf(v.Get("access_token")) {
				t.Errorf("at_hash %v, want %v (access token %v)", idt["at_hash"], leftHalf(v.Get("access_token")), tc.at)
			}
			if want := tc.code; (idt["c_hash"] != nil) != want || want && idt["c_hash"] != leftHalf(v.Get("code")) {
				t.Errorf("c_hash %v, want %v (code %v)", idt["c_hash"], leftHalf(v.Get("code")), tc.code)
			}
			// Without an access token the consented claims can only reach
			// the client in the ID token (OIDC Core §5.4).
			if got := idt["email"] == "email-value"; got != tc.claimsInIDTokenToo {
				t.Errorf("email in ID token: %v, want %v", idt["email"], tc.claimsInIDTokenToo)
			}
		})
	}
}

// TestImplicitSessionKeepsResponseType: the response type is kept as a set,
// whatever the order it was sent in.
func TestImplicitSessionKeepsResponseType(t *testing.T) {
	e := newEnv(t, Config{})
	m := e.start(implicitQuery("token id_token"), "")
	obj, err := e.svc.Get(context.Background(), m.SID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(obj.AuthReq.ResponseType, []string{"id_token", "token"}) {
		t.Errorf("response type %v, want the sorted set", obj.AuthReq.ResponseType)
	}
}

// failingClaims fails like a claims source under on_error: fail.
type failingClaims struct{}

func (failingClaims) Get(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return nil, oauth.TemporarilyUnavailable("claims source down")
}

// TestImplicitClaimsSourceFailure: a claims source failure while minting
// the front-channel ID token reaches the client as temporarily_unavailable,
// never as an error of the session API, and leaves no code or grant.
func TestImplicitClaimsSourceFailure(t *testing.T) {
	for _, rt := range []string{"id_token", "id_token token", "code id_token token"} {
		t.Run(rt, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.withTokens()
			e.svc.Tokens.(*token.Service).Claims = failingClaims{}
			q := implicitQuery(rt)
			if strings.Contains(rt, "code") {
				q = query("client_id", "implicit", "response_type", rt)
			}
			m := e.login(q, `{"sub":"alice"}`, `{"scope":["*"],"claims":["id_token:email"]}`)
			_, v := params(t, m)
			if v.Get("error") != oauth.ErrCodeTemporarilyUnavailable || v.Has("id_token") || v.Has("access_token") || v.Has("code") || m.Mode != "fragment" {
				t.Errorf("final response %s %v, want temporarily_unavailable in the fragment", m.Mode, v)
			}
			grants, err := e.dur.Grants.List(context.Background(), store.GrantFilter{Subject: "alice"}, e.clock.Now())
			if err != nil || len(grants) != 0 {
				t.Errorf("grants left: %d (%v)", len(grants), err)
			}
		})
	}
}
