package e2e

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
)

// allResponseTypes are the response types of issue 17 with code.
var allResponseTypes = []string{"code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"}

// newImplicitRP registers a client for every response type, with the
// implicit grant OpenID Connect Registration §2 requires for them.
func (e *env) newImplicitRP(extra map[string]any) *rp {
	md := map[string]any{
		"response_types": allResponseTypes,
		"grant_types":    []string{"authorization_code", "implicit", "refresh_token"},
	}
	for k, v := range extra {
		md[k] = v
	}
	return e.newRP(md)
}

// finalMessage drives an authorisation request through the authorisation
// session API as the replayed Connect2id login page does: it adds ?type=auth
// and ?type=response to the API's own URL, which must be ignored.
func (r *rp) finalMessage(rawQuery, sub string) map[string]any {
	t := r.e.t
	t.Helper()
	status, msg := r.e.authzSession(http.MethodPost, "?type=auth", map[string]any{"query": rawQuery})
	if status != http.StatusOK {
		t.Fatalf("start: status %d: %v", status, msg)
	}
	sid, _ := msg["sid"].(string)
	if msg["type"] == "auth" {
		status, msg = r.e.authzSession(http.MethodPut, "/"+sid+"?type=auth", map[string]any{"sub": sub})
		if status != http.StatusOK {
			t.Fatalf("submit auth: status %d: %v", status, msg)
		}
	}
	if msg["type"] == "consent" {
		status, msg = r.e.authzSession(http.MethodPut, "/"+sid+"?type=response", map[string]any{
			"scope": []string{"*"}, "claims": []string{"*"},
			"refresh_token": map[string]any{"issue": true},
		})
		if status != http.StatusOK {
			t.Fatalf("submit consent: status %d: %v", status, msg)
		}
	}
	return msg
}

// halfHashOf computes at_hash / c_hash (OIDC Core §3.3.2.11) for the JWS
// algorithm in the token's header, independently of the server.
func halfHashOf(t *testing.T, jws, v string) string {
	t.Helper()
	rawHeader, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(rawHeader)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	var h hash.Hash
	switch {
	case hdr.Alg == "EdDSA", strings.HasSuffix(hdr.Alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(hdr.Alg, "384"):
		h = sha512.New384()
	default:
		h = sha256.New()
	}
	h.Write([]byte(v))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// TestImplicitAndHybridFlows: every response type end to end, with go-oidc
// verifying the ID token and its at_hash, the test checking c_hash, the
// front-channel access token working at UserInfo, and the hybrid code
// redeeming with its PKCE verifier.
func TestImplicitAndHybridFlows(t *testing.T) {
	e := newEnv(t)
	r := e.newImplicitRP(nil)
	for _, tc := range []struct{ rt, mode string }{
		{"id_token", ""}, {"id_token token", ""}, {"code id_token", ""}, {"code token", ""},
		{"code id_token token", ""}, {"token id_token code", "form_post"}, {"id_token", "form_post"},
	} {
		t.Run(tc.rt+"/"+tc.mode, func(t *testing.T) {
			toks := strings.Fields(tc.rt)
			withCode, withAT, withIDT := slices.Contains(toks, "code"), slices.Contains(toks, "token"), slices.Contains(toks, "id_token")
			state, nonce, verifier := "st-"+tc.rt, "n-"+strings.ReplaceAll(tc.rt, " ", "-"), oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.SetAuthURLParam("response_type", tc.rt)}
			if withCode {
				opts = append(opts, oauth2.S256ChallengeOption(verifier))
			}
			if tc.mode != "" {
				opts = append(opts, oauth2.SetAuthURLParam("response_mode", tc.mode))
			}
			msg := r.finalMessage(queryOf(t, r.conf.AuthCodeURL(state, opts...)), "alice")
			wantMode := "fragment"
			if tc.mode != "" {
				wantMode = tc.mode
			}
			p, _ := msg["parameters"].(map[string]any)
			if msg["mode"] != wantMode || p == nil {
				t.Fatalf("final message %v, want mode %s", msg, wantMode)
			}
			uri, _ := p["uri"].(string)
			switch wantMode {
			case "fragment":
				// Connect2id's shape: the complete redirect in parameters.uri.
				if !strings.HasPrefix(uri, r.redirectURI+"#") || p["form"] != nil {
					t.Fatalf("parameters %v, want uri %s#…", p, r.redirectURI)
				}
			case "form_post":
				if uri != r.redirectURI || p["form"] == nil {
					t.Fatalf("parameters %v, want uri %s and form", p, r.redirectURI)
				}
			}
			v := redirectParams(t, msg)
			if v.Get("state") != state || v.Get("iss") != e.issuer || v.Has("error") || v.Has("refresh_token") {
				t.Fatalf("response %v", v)
			}
			if v.Has("code") != withCode || v.Has("access_token") != withAT || v.Has("id_token") != withIDT {
				t.Fatalf("response members %v for %s", v, tc.rt)
			}
			if withIDT {
				idt, err := r.verifier.Verify(r.ctx(), v.Get("id_token"))
				if err != nil {
					t.Fatalf("go-oidc: %v", err)
				}
				if idt.Nonce != nonce || idt.Subject != "alice" {
					t.Errorf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
				}
				var c struct {
					CHash  string `json:"c_hash"`
					ATHash string `json:"at_hash"`
					Email  string `json:"email"`
				}
				if err := idt.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if withAT {
					// go-oidc checks at_hash against the token.
					if err := idt.VerifyAccessToken(v.Get("access_token")); err != nil {
						t.Errorf("at_hash: %v", err)
					}
				} else if c.ATHash != "" {
					t.Errorf("at_hash %q without an access token", c.ATHash)
				}
				if want := ""; withCode {
					if want = halfHashOf(t, v.Get("id_token"), v.Get("code")); c.CHash != want {
						t.Errorf("c_hash = %q, want %q", c.CHash, want)
					}
				} else if c.CHash != want {
					t.Errorf("c_hash %q without a code", c.CHash)
				}
				// Only id_token: the consented claims travel in it
				// (OIDC Core §5.4).
				if !withAT && !withCode && c.Email != "alice@example.com" {
					t.Errorf("email in ID token = %q, want alice's", c.Email)
				}
			}
			if withAT {
				if v.Get("token_type") != "Bearer" || v.Get("expires_in") != "600" {
					t.Errorf("token_type %q expires_in %q", v.Get("token_type"), v.Get("expires_in"))
				}
				info, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: v.Get("access_token"), TokenType: "Bearer"}))
				if err != nil || info.Subject != "alice" {
					t.Errorf("UserInfo with the front-channel token: %v %v", info, err)
				}
			}
			if withCode {
				tok, err := r.conf.Exchange(r.ctx(), v.Get("code"), oauth2.VerifierOption(verifier))
				if err != nil {
					t.Fatalf("redeem the hybrid code: %v", err)
				}
				raw, _ := tok.Extra("id_token").(string)
				idt, err := r.verifier.Verify(r.ctx(), raw)
				if err != nil || idt.Nonce != nonce {
					t.Errorf("token endpoint ID token: %v nonce %v", err, idt)
				}
				if tok.RefreshToken == "" {
					t.Error("the code's grant has no refresh token; the consent asked for one")
				}
				// The code is single-use as in the code flow.
				if _, err := r.conf.Exchange(r.ctx(), v.Get("code"), oauth2.VerifierOption(verifier)); err == nil {
					t.Error("the hybrid code redeemed twice")
				}
			}
		})
	}
}

// TestHybridCodeNeedsItsVerifier: the code of a hybrid response keeps the
// PKCE rules of the code flow.
func TestHybridCodeNeedsItsVerifier(t *testing.T) {
	e := newEnv(t)
	r := e.newImplicitRP(nil)
	verifier := oauth2.GenerateVerifier()
	q := queryOf(t, r.conf.AuthCodeURL("st", oidc.Nonce("n"), oauth2.SetAuthURLParam("response_type", "code id_token"), oauth2.S256ChallengeOption(verifier)))
	v := redirectParams(t, r.finalMessage(q, "alice"))
	status, body, _ := e.postForm("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {v.Get("code")}, "redirect_uri": {r.redirectURI},
		"code_verifier": {oauth2.GenerateVerifier()},
	}, r.clientID, r.clientSecret)
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_grant")
}

// TestReplayedConnect2idApp replays the public mobile app of issue 17: its
// login page starts the session with ?type=auth and a response_type=id_token
// query (with a nonce), and reads the ID token out of the final response's
// URI fragment.
func TestReplayedConnect2idApp(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(map[string]any{
		"response_types":             []string{"id_token"},
		"grant_types":                []string{"implicit"},
		"token_endpoint_auth_method": "none",
	})
	q := url.Values{
		"response_type": {"id_token"}, "scope": {"openid email"}, "client_id": {r.clientID},
		"state": {"xyz"}, "redirect_uri": {r.redirectURI}, "nonce": {"app-nonce"},
	}
	msg := r.finalMessage(q.Encode(), "alice")
	p := msg["parameters"].(map[string]any)
	u, err := url.Parse(p["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || u.RawQuery != "" {
		t.Fatalf("final uri %s: %v", u, err)
	}
	idt, err := r.verifier.Verify(r.ctx(), frag.Get("id_token"))
	if err != nil {
		t.Fatalf("go-oidc: %v", err)
	}
	if idt.Nonce != "app-nonce" || frag.Get("state") != "xyz" {
		t.Errorf("nonce %q state %q", idt.Nonce, frag.Get("state"))
	}
}

// TestImplicitBadInputOverHTTP: the refusals of issue 17, through the
// authorisation session API, with their exact codes and never a 5xx.
func TestImplicitBadInputOverHTTP(t *testing.T) {
	e := newEnv(t)
	r := e.newImplicitRP(nil)
	codeOnly := e.newRP(nil)
	for _, tc := range []struct {
		name, code string
		rp         *rp
		set        map[string]string
	}{
		{"missing nonce", "invalid_request", r, map[string]string{"response_type": "id_token token", "nonce": ""}},
		{"query mode with token", "invalid_request", r, map[string]string{"response_type": "code token", "response_mode": "query"}},
		{"unregistered response type", "unauthorized_client", codeOnly, map[string]string{"response_type": "code id_token"}},
		{"repeated values", "invalid_request", r, map[string]string{"response_type": "id_token token id_token"}},
		{"unknown combination", "unsupported_response_type", r, map[string]string{"response_type": "id_token banana"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"scope": {"openid"}, "client_id": {tc.rp.clientID}, "redirect_uri": {tc.rp.redirectURI},
				"state": {"s1"}, "nonce": {"n1"}}
			for k, v := range tc.set {
				if v == "" {
					q.Del(k)
				} else {
					q.Set(k, v)
				}
			}
			status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": q.Encode()})
			if status != http.StatusOK || msg["type"] != "response" || msg["mode"] != "fragment" {
				t.Fatalf("status %d %v, want the error in the fragment", status, msg)
			}
			if v := redirectParams(t, msg); v.Get("error") != tc.code || v.Get("state") != "s1" {
				t.Errorf("response %v, want %s", v, tc.code)
			}
		})
	}
}

// TestImplicitAccessTokensOff: authz.allow_implicit_access_tokens false
// refuses the token-bearing response types at the authorisation endpoint
// and at registration, and discovery stops listing them.
func TestImplicitAccessTokensOff(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Authz.AllowImplicitAccessTokens = false })
	r := e.newRP(map[string]any{"response_types": []string{"code", "id_token", "code id_token"}, "grant_types": []string{"authorization_code", "implicit"}})
	q := url.Values{"response_type": {"id_token token"}, "scope": {"openid"}, "client_id": {r.clientID},
		"redirect_uri": {r.redirectURI}, "state": {"s1"}, "nonce": {"n1"}}
	status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": q.Encode()})
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, msg)
	}
	if v := redirectParams(t, msg); v.Get("error") != "unsupported_response_type" {
		t.Errorf("response %v, want unsupported_response_type", v)
	}
	status, body := e.registerClient(map[string]any{"redirect_uris": []string{r.redirectURI},
		"response_types": []string{"id_token token"}, "grant_types": []string{"implicit"}})
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_client_metadata")

	if got, want := e.implicitDiscovery().ResponseTypes, []string{"code", "id_token", "code id_token"}; !slices.Equal(got, want) {
		t.Errorf("response_types_supported = %v, want %v", got, want)
	}
}

type implicitDiscovery struct {
	ResponseTypes []string `json:"response_types_supported"`
	ResponseModes []string `json:"response_modes_supported"`
	GrantTypes    []string `json:"grant_types_supported"`
}

func (e *env) implicitDiscovery() implicitDiscovery {
	e.t.Helper()
	var md implicitDiscovery
	resp, err := e.http.Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil {
		e.t.Fatal(err)
	}
	return md
}

// TestImplicitDiscovery: by default discovery lists exactly the response
// types the authorisation endpoint serves, the modes they use (plain and
// JWT-secured), and the implicit grant they are registered with.
func TestImplicitDiscovery(t *testing.T) {
	md := newEnv(t).implicitDiscovery()
	if want := []string{"code", "id_token", "code id_token", "id_token token", "code token", "code id_token token"}; !slices.Equal(md.ResponseTypes, want) {
		t.Errorf("response_types_supported = %v, want %v", md.ResponseTypes, want)
	}
	if want := []string{"query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"}; !slices.Equal(md.ResponseModes, want) {
		t.Errorf("response_modes_supported = %v, want %v", md.ResponseModes, want)
	}
	if !slices.Contains(md.GrantTypes, "implicit") {
		t.Errorf("grant_types_supported = %v, want implicit", md.GrantTypes)
	}
}

// TestImplicitRegistration: OpenID Connect Registration §2 — a response
// type returning tokens from the authorisation endpoint needs the implicit
// grant; without grant_types it is implied.
func TestImplicitRegistration(t *testing.T) {
	e := newEnv(t)
	redirect := "http://127.0.0.1:9/cb"
	status, body := e.registerClient(map[string]any{"redirect_uris": []string{redirect},
		"response_types": []string{"code id_token"}, "grant_types": []string{"authorization_code"}})
	wantOAuthError(t, status, body, http.StatusBadRequest, "invalid_client_metadata")
	status, body = e.registerClient(map[string]any{"redirect_uris": []string{redirect},
		"response_types": []string{"id_token token", "code"}})
	if status != http.StatusCreated {
		t.Fatalf("status %d %v", status, body)
	}
	gt, _ := json.Marshal(body["grant_types"])
	if !strings.Contains(string(gt), `"implicit"`) || !strings.Contains(string(gt), `"authorization_code"`) {
		t.Errorf("grant_types %s, want implicit and authorization_code implied", gt)
	}
}
