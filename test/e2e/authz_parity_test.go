package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/secret"
)

// Tests of the authorisation session API's Connect2id parity (docs/api.md
// §3–§5): every member a login page written against Connect2id's
// documentation may send is honoured — its effect shows in the issued
// tokens — or refused with a 400 naming it.

// withMasterKey gives the node a known master key, so that the test can
// derive what every node derives from it: the access token encryption key
// and the pairwise salt.
func withMasterKey(t *testing.T) (envOption, *secret.Keys) {
	t.Helper()
	raw := make([]byte, secret.MasterKeySize)
	rand.Read(raw)
	keys, err := secret.DeriveKeys(raw)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.MasterKey = config.Secret(base64.StdEncoding.EncodeToString(raw)) }, keys
}

// flowResult is what one run through the authorisation session API gave.
type flowResult struct {
	startStatus, authStatus, consentStatus int
	start, auth, consent                   map[string]any
	sid                                    string
	// tok is the token response; at and id the decoded access token (after
	// decryption) and ID token claims.
	tok     map[string]any
	rawAT   string
	at, id  map[string]any
	atParts int
}

// flow drives start → auth → consent with extra members and redeems the
// code. It stops at the first non-200 answer.
func (r *rp) flow(keys *secret.Keys, authURLOpts []oauth2.AuthCodeOption, start, auth, consent map[string]any) *flowResult {
	t := r.e.t
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, authURLOpts...)
	res := &flowResult{}
	body := map[string]any{"query": queryOf(t, r.conf.AuthCodeURL("st", opts...))}
	for k, v := range start {
		body[k] = v
	}
	res.startStatus, res.start = r.e.authzSession(http.MethodPost, "", body)
	if res.startStatus != http.StatusOK {
		return res
	}
	res.sid, _ = res.start["sid"].(string)
	msg := res.start
	if msg["type"] == "auth" {
		body = map[string]any{"sub": "alice"}
		for k, v := range auth {
			body[k] = v
		}
		res.authStatus, res.auth = r.e.authzSession(http.MethodPut, "/"+res.sid, body)
		if res.authStatus != http.StatusOK {
			return res
		}
		msg = res.auth
	}
	if msg["type"] == "consent" {
		body = map[string]any{"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": true,
			"refresh_token": map[string]any{"issue": true}}
		for k, v := range consent {
			body[k] = v
		}
		res.consentStatus, res.consent = r.e.authzSession(http.MethodPut, "/"+res.sid, body)
		if res.consentStatus != http.StatusOK {
			return res
		}
		msg = res.consent
	}
	code := redirectParams(t, msg).Get("code")
	if code == "" {
		t.Fatalf("no code: %v", msg)
	}
	status, tok := r.redeem(code, verifier)
	if status != http.StatusOK {
		t.Fatalf("redeem: %d %v", status, tok)
	}
	res.tok = tok
	res.rawAT, _ = tok["access_token"].(string)
	res.atParts = strings.Count(res.rawAT, ".") + 1
	jws := res.rawAT
	if res.atParts == 5 {
		jws = decryptAT(t, keys, res.rawAT)
	}
	if strings.Count(jws, ".") == 2 {
		res.at = jwtClaims(t, jws)
	}
	if idt, ok := tok["id_token"].(string); ok {
		res.id = jwtClaims(t, idt)
	}
	return res
}

// decryptAT opens an encrypted access token with go-jose, checking that it
// is JWE dir + A128GCM, and returns the nested JWS.
func decryptAT(t *testing.T, keys *secret.Keys, v string) string {
	t.Helper()
	jwe, err := gojose.ParseEncryptedCompact(v, []gojose.KeyAlgorithm{gojose.DIRECT}, []gojose.ContentEncryption{gojose.A128GCM})
	if err != nil {
		t.Fatalf("access token is not a dir/A128GCM JWE: %v", err)
	}
	if jwe.Header.Algorithm != "dir" || jwe.Header.ExtraHeaders["enc"] != "A128GCM" || jwe.Header.ExtraHeaders["cty"] != "JWT" {
		t.Errorf("JWE header = %+v", jwe.Header)
	}
	if keys == nil {
		t.Fatal("an encrypted access token, but no key to open it")
	}
	pt, err := jwe.Decrypt(keys.AccessTokenEncryption)
	if err != nil {
		t.Fatalf("decrypt with the master-key-derived key: %v", err)
	}
	return string(pt)
}

// jwtClaims decodes the payload of a compact JWS (its signature is checked
// by the server and go-oidc elsewhere).
func jwtClaims(t *testing.T, v string) map[string]any {
	t.Helper()
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestConsentShapesTokens: one consent with every token-shaping member,
// and the tokens, UserInfo and introspection show each effect.
func TestConsentShapesTokens(t *testing.T) {
	mk, keys := withMasterKey(t)
	e := newEnv(t, mk)
	r := e.newRP(nil)
	res := r.flow(keys, nil, nil, nil, map[string]any{
		"claims":      []string{"email", "access_token:email", "access_token:uip:name", "access_token:dat:given_name"},
		"data":        map[string]any{"tier": "gold"},
		"claims_data": map[string]any{"ref": "r-1"},
		"audience":    []string{"https://rs-a.example"},
		"access_token": map[string]any{
			"encrypt": true, "sub_type": "PAIRWISE",
		},
		"id_token": map[string]any{"impersonated_sub": "bob"},
	})
	if res.consentStatus != http.StatusOK {
		t.Fatalf("consent: %d %v", res.consentStatus, res.consent)
	}
	if res.atParts != 5 {
		t.Fatalf("access token has %d parts, want a JWE (5)", res.atParts)
	}
	at := res.at
	wantSub := secret.Pairwise(keys.PairwiseSalt, "aud:https://rs-a.example", "alice")
	if at["sub"] != wantSub || at["sub"] == "alice" {
		t.Errorf("access token sub = %v, want the pairwise %s", at["sub"], wantSub)
	}
	if at["email"] != "alice@example.com" {
		t.Errorf("access_token:email not fed: %v", at["email"])
	}
	if uip, _ := at["uip"].(map[string]any); uip["name"] != "Alice Adams" {
		t.Errorf("uip = %v, want name", at["uip"])
	}
	if dat, _ := at["dat"].(map[string]any); dat["tier"] != "gold" || dat["given_name"] != "Alice" {
		t.Errorf("dat = %v, want the consent's data and given_name", at["dat"])
	}
	if cld, _ := at["cld"].(map[string]any); cld["ref"] != "r-1" {
		t.Errorf("cld = %v", at["cld"])
	}
	if at["client_id"] != r.clientID || at["scope"] == nil {
		t.Errorf("rfc9068 profile: client_id %v scope %v", at["client_id"], at["scope"])
	}
	// The ID token: impersonated subject, the real one in act.
	if res.id["sub"] != "bob" {
		t.Errorf("ID token sub = %v, want the impersonated bob", res.id["sub"])
	}
	if act, _ := res.id["act"].(map[string]any); act["sub"] != "alice" {
		t.Errorf("ID token act = %v, want {sub: alice}", res.id["act"])
	}
	if _, err := r.verifier.Verify(r.ctx(), res.tok["id_token"].(string)); err != nil {
		t.Errorf("go-oidc rejects the ID token: %v", err)
	}

	// UserInfo accepts the encrypted, pairwise token and answers for the
	// subject the client knows.
	status, ui := e.userInfo(res.rawAT)
	if status != http.StatusOK || ui["sub"] != "alice" || ui["email"] != "alice@example.com" {
		t.Errorf("userinfo: %d %v", status, ui)
	}
	// Introspection maps it back to the grant and shows dat, cld, sub_type.
	status, in := e.introspectBearer(e.apiToken, res.rawAT)
	if status != http.StatusOK || in["active"] != true || in["sub"] != wantSub || in["sub_type"] != "PAIRWISE" {
		t.Fatalf("introspection: %d %v", status, in)
	}
	if dat, _ := in["dat"].(map[string]any); dat["tier"] != "gold" {
		t.Errorf("introspection dat = %v", in["dat"])
	}
	if cld, _ := in["cld"].(map[string]any); cld["ref"] != "r-1" {
		t.Errorf("introspection cld = %v", in["cld"])
	}
	// A tampered JWE is refused.
	bad := res.rawAT[:len(res.rawAT)-4] + "AAAA"
	if status, _ := e.userInfo(bad); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a tampered JWE: %d, want 401", status)
	}
}

// TestPairwiseAccessTokenSubjects: a PAIRWISE access token subject is
// stable for one audience and differs between audiences and subjects.
func TestPairwiseAccessTokenSubjects(t *testing.T) {
	mk, keys := withMasterKey(t)
	e := newEnv(t, mk)
	r := e.newRP(nil)
	sub := func(aud string) string {
		res := r.flow(keys, nil, nil, nil, map[string]any{"audience": []string{aud}, "long_lived": false,
			"access_token": map[string]any{"sub_type": "PAIRWISE"}})
		if res.consentStatus != http.StatusOK {
			t.Fatalf("consent: %d %v", res.consentStatus, res.consent)
		}
		s, _ := res.at["sub"].(string)
		if status, ui := e.userInfo(res.rawAT); status != http.StatusOK || ui["sub"] != "alice" {
			t.Errorf("userinfo for audience %s: %d %v", aud, status, ui)
		}
		return s
	}
	a1, a2, b := sub("https://a.example"), sub("https://a.example"), sub("https://b.example")
	if a1 == "" || a1 != a2 {
		t.Errorf("pairwise sub not stable for one audience: %q, %q", a1, a2)
	}
	if a1 == b || a1 == "alice" || b == "alice" {
		t.Errorf("pairwise subs: a %q b %q, want distinct and not the public one", a1, b)
	}
}

// TestAccessTokenProfileC2ID: under tokens.access_token_profile c2id-1.1
// the access token carries Connect2id's claim names, and UserInfo and
// introspection accept it.
func TestAccessTokenProfileC2ID(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Tokens.AccessTokenProfile = "c2id-1.1" })
	r := e.newRP(nil)
	res := r.flow(nil, nil, nil, nil, map[string]any{
		"claims_locales": []string{"de", "en"},
		"preset_claims":  map[string]any{"userinfo": map[string]any{"group": "staff"}},
		"data":           map[string]any{"k": "v"},
		"audience":       []string{"https://rs.example"},
		"access_token":   map[string]any{"sub_type": "PAIRWISE"},
	})
	at := res.at
	if at["cid"] != r.clientID || at["client_id"] != nil || at["scope"] != nil {
		t.Errorf("c2id-1.1: cid %v client_id %v scope %v", at["cid"], at["client_id"], at["scope"])
	}
	scp, _ := at["scp"].([]any)
	if !slices.Contains(scp, any("openid")) || !slices.Contains(scp, any("email")) {
		t.Errorf("scp = %v, want an array with openid and email", at["scp"])
	}
	clm, _ := at["clm"].([]any)
	if !slices.Contains(clm, any("email")) {
		t.Errorf("clm = %v, want the consented UserInfo claims", at["clm"])
	}
	if cls, _ := at["cls"].([]any); len(cls) != 2 || cls[0] != "de" {
		t.Errorf("cls = %v, want the consent's claims_locales", at["cls"])
	}
	if uip, _ := at["uip"].(map[string]any); uip["group"] != "staff" {
		t.Errorf("uip = %v, want the preset UserInfo claims", at["uip"])
	}
	if dat, _ := at["dat"].(map[string]any); dat["k"] != "v" {
		t.Errorf("dat = %v", at["dat"])
	}
	if at["sub_type"] != "PAIRWISE" {
		t.Errorf("sub_type = %v", at["sub_type"])
	}
	if status, ui := e.userInfo(res.rawAT); status != http.StatusOK || ui["group"] != "staff" {
		t.Errorf("userinfo: %d %v", status, ui)
	}
	if status, in := e.introspectBearer(e.apiToken, res.rawAT); status != http.StatusOK || in["active"] != true || in["client_id"] != r.clientID {
		t.Errorf("introspection: %d %v", status, in)
	}
}

// TestClaimsTransportAndSessionClaims: claims_transport ID_TOKEN puts the
// consented claims in the ID token; tokens.id_token_session_claims copies
// the named subject session claims into it; preset claims land where the
// consent says.
func TestClaimsTransportAndSessionClaims(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Tokens.IDTokenSessionClaims = []string{"login_ip"} })
	r := e.newRP(nil)
	res := r.flow(nil, nil, nil,
		map[string]any{"claims": map[string]any{"login_ip": "203.0.113.7", "device": "x"}},
		map[string]any{"claims_transport": "ID_TOKEN", "preset_claims": map[string]any{"id_token": map[string]any{"org": "acme"}}})
	if res.id["email"] != "alice@example.com" {
		t.Errorf("claims_transport ID_TOKEN: ID token email = %v", res.id["email"])
	}
	if res.id["login_ip"] != "203.0.113.7" || res.id["device"] != nil {
		t.Errorf("session claims in the ID token: login_ip %v device %v", res.id["login_ip"], res.id["device"])
	}
	if res.id["org"] != "acme" {
		t.Errorf("preset id_token claim = %v", res.id["org"])
	}
	if status, ui := e.userInfo(res.rawAT); status != http.StatusOK || ui["email"] != nil {
		t.Errorf("userinfo after claims_transport ID_TOKEN: %d %v, want no email", status, ui)
	}
}

// TestSessionLifecycleAfterFinal: after the final response GET, DELETE and
// /data are 404, an identical PUT replays the final message, any other PUT
// is 404.
func TestSessionLifecycleAfterFinal(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	_, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))})
	sid := msg["sid"].(string)
	e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
	consent := map[string]any{"scope": []string{"*"}, "claims": []string{"*"}}
	status, final := e.authzSession(http.MethodPut, "/"+sid, consent)
	if status != http.StatusOK || final["type"] != "response" {
		t.Fatalf("consent: %d %v", status, final)
	}
	if status, again := e.authzSession(http.MethodPut, "/"+sid, consent); status != http.StatusOK || fmt.Sprint(again) != fmt.Sprint(final) {
		t.Errorf("double submit: %d %v, want the same final message", status, again)
	}
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/" + sid, nil},
		{http.MethodDelete, "/" + sid, nil},
		{http.MethodGet, "/" + sid + "/data", nil},
		{http.MethodPut, "/" + sid + "/data", map[string]any{"a": 1}},
		{http.MethodPut, "/" + sid, map[string]any{"scope": []string{"openid"}}},
		{http.MethodPut, "/" + sid, map[string]any{"sub": "alice"}},
	} {
		if status, body := e.authzSession(c.method, c.path, c.body); status != http.StatusNotFound || body["error"] == nil {
			t.Errorf("%s %s after the final response: %d %v, want a JSON 404", c.method, c.path, status, body)
		}
	}
}

// TestAuthzSessionData: GET/PUT /{sid}/data, echoed in the auth and consent
// prompts and the GET object; size-limited, objects only.
func TestAuthzSessionData(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	_, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))})
	sid := msg["sid"].(string)
	if status, d := e.authzSession(http.MethodGet, "/"+sid+"/data", nil); status != http.StatusOK || len(d) != 0 {
		t.Errorf("initial data: %d %v, want {}", status, d)
	}
	data := map[string]any{"step": "otp", "n": 2.0}
	if status, d := e.authzSession(http.MethodPut, "/"+sid+"/data", data); status != http.StatusOK || d["step"] != "otp" {
		t.Fatalf("put data: %d %v", status, d)
	}
	if status, d := e.authzSession(http.MethodGet, "/"+sid+"/data", nil); status != http.StatusOK || d["step"] != "otp" {
		t.Errorf("get data: %d %v", status, d)
	}
	if _, obj := e.authzSession(http.MethodGet, "/"+sid, nil); obj["data"].(map[string]any)["step"] != "otp" {
		t.Errorf("GET object data = %v", obj["data"])
	}
	for name, body := range map[string]string{
		"array":     `[1]`,
		"string":    `"x"`,
		"null":      `null`,
		"too large": `{"x":"` + strings.Repeat("a", 17<<10) + `"}`,
		"trailing":  `{}{}`,
	} {
		req, _ := http.NewRequest(http.MethodPut, e.issuer+"/authz-sessions/rest/v3/"+sid+"/data", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		req.Header.Set("Content-Type", "application/json")
		if status, b := e.doJSON(req); status != http.StatusBadRequest || b["error"] != "invalid_request" {
			t.Errorf("%s: %d %v, want 400 invalid_request", name, status, b)
		}
	}
	// Echoed in the auth prompt of the session (a new auth prompt comes
	// from re-authentication, so check the consent prompt) ...
	_, consent := e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
	if d, _ := consent["data"].(map[string]any); d["step"] != "otp" {
		t.Errorf("consent prompt data = %v", consent["data"])
	}
	// ... and the data may change while consent is pending.
	e.authzSession(http.MethodPut, "/"+sid+"/data", map[string]any{"step": "consent"})
	if _, d := e.authzSession(http.MethodGet, "/"+sid+"/data", nil); d["step"] != "consent" {
		t.Errorf("data after the second put = %v", d)
	}
	if status, _ := e.authzSession(http.MethodGet, "/no-such-sid/data", nil); status != http.StatusNotFound {
		t.Errorf("data of an unknown session: %d, want 404", status)
	}
}

// fingerprint returns a BASE64URL SHA-256 as a UI computes fpt.
func fingerprint(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestFingerprint: a subject session created with one fpt is not used for
// SSO from another: it is ended and an auth prompt returned.
func TestFingerprint(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	q := func() string {
		return queryOf(t, r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	}
	fa, fb := fingerprint("agent A"), fingerprint("agent B")
	_, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": q(), "fpt": fa})
	sid := msg["sid"].(string)
	if _, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"}); msg["type"] != "consent" {
		t.Fatalf("authenticate: %v", msg)
	}
	_, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": true})
	subSID, _ := msg["sub_sid"].(string)
	if subSID == "" {
		t.Fatalf("no sub_sid: %v", msg)
	}
	// Same fingerprint: SSO.
	if _, msg = e.authzSession(http.MethodPost, "", map[string]any{"query": q(), "sub_sid": subSID, "fpt": fa}); msg["type"] != "response" {
		t.Fatalf("same fpt: %v, want SSO to the final response", msg)
	}
	// Another fingerprint: auth prompt, and the session is ended.
	_, msg = e.authzSession(http.MethodPost, "", map[string]any{"query": q(), "sub_sid": subSID, "fpt": fb})
	if msg["type"] != "auth" || !slices.Contains(msg["reasons"].([]any), any("login/fpt")) {
		t.Fatalf("other fpt: %v, want an auth prompt with reason login/fpt", msg)
	}
	if _, msg = e.authzSession(http.MethodPost, "", map[string]any{"query": q(), "sub_sid": subSID, "fpt": fa}); msg["type"] != "auth" {
		t.Errorf("the session survived a fingerprint mismatch: %v", msg)
	}
	for _, bad := range []string{"short", strings.Repeat("!", 43), fa + "A"} {
		if status, body := e.authzSession(http.MethodPost, "", map[string]any{"query": q(), "fpt": bad}); status != http.StatusBadRequest || !strings.Contains(body["error_description"].(string), "fpt") {
			t.Errorf("fpt %q: %d %v, want 400 naming fpt", bad, status, body)
		}
	}
}

// TestRedirectURITemplate: a registered urn:c2id:redirect_uri_template:
// redirect URI is filled by redirect_uri_template_param at start.
func TestRedirectURITemplate(t *testing.T) {
	e := newEnv(t)
	status, reg := e.registerClient(map[string]any{
		"redirect_uris": []string{"urn:c2id:redirect_uri_template:https://[param].rp.example/cb"},
		"scope":         "openid",
	})
	if status != http.StatusCreated {
		t.Fatalf("register a template: %d %v", status, reg)
	}
	cid := reg["client_id"].(string)
	secretV := reg["client_secret"].(string)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	q := func(redirect string) string {
		return url.Values{"response_type": {"code"}, "client_id": {cid}, "scope": {"openid"}, "redirect_uri": {redirect},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}.Encode()
	}
	_, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": q("https://acme.rp.example/cb"), "redirect_uri_template_param": "acme"})
	if msg["type"] != "auth" {
		t.Fatalf("filled template: %v, want an auth prompt", msg)
	}
	sid := msg["sid"].(string)
	e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
	_, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{"scope": []string{"*"}})
	if u := msg["parameters"].(map[string]any)["uri"].(string); !strings.HasPrefix(u, "https://acme.rp.example/cb?code=") {
		t.Errorf("final redirect = %s", u)
	}
	_ = secretV
	for name, c := range map[string]struct {
		redirect, param string
	}{
		"other param":         {"https://acme.rp.example/cb", "other"},
		"no param":            {"https://acme.rp.example/cb", ""},
		"template itself":     {"urn:c2id:redirect_uri_template:https://[param].rp.example/cb", ""},
		"param with a dot":    {"https://a.b.rp.example/cb", "a.b"},
		"param with a slash":  {"https://a/b.rp.example/cb", "a/b"},
		"param, other domain": {"https://acme.evil.example/cb", "acme"},
	} {
		start := map[string]any{"query": q(c.redirect)}
		if c.param != "" {
			start["redirect_uri_template_param"] = c.param
		}
		status, msg := e.authzSession(http.MethodPost, "", start)
		if (status != http.StatusOK || msg["type"] != "error") && status != http.StatusBadRequest {
			t.Errorf("%s: %d %v, want a non-redirected error", name, status, msg)
		}
	}
	for _, bad := range []string{
		"urn:c2id:redirect_uri_template:https://rp.example/cb",
		"urn:c2id:redirect_uri_template:https://[param].[param].rp.example/cb",
		"urn:c2id:redirect_uri_template:https://rp.example/[param]",
		"urn:c2id:redirect_uri_template:javascript://[param]/x",
	} {
		if status, body := e.registerClient(map[string]any{"redirect_uris": []string{bad}}); status != http.StatusBadRequest {
			t.Errorf("register %s: %d %v, want 400", bad, status, body)
		}
	}
}

// TestIntegrationStatusCodes: 415 for a wrong Content-Type, identical 401
// bodies for a missing and a wrong token, JSON 404/405 for unknown routes
// under the integration prefixes, 400 for the Issuer and Tenant-ID
// headers.
func TestIntegrationStatusCodes(t *testing.T) {
	e := newEnv(t)
	call := func(method, path, token, ctype, body string, hdr map[string]string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, e.issuer+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String(), resp.Header
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		if status, body, _ := call("POST", "/authz-sessions/rest/v3", e.apiToken, ct, `{"query":"x"}`, nil); status != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d %s, want 415", ct, status, body)
		}
	}
	s1, missing, _ := call("GET", "/authz-sessions/rest/v3/x", "", "", "", nil)
	s2, wrong, _ := call("GET", "/authz-sessions/rest/v3/x", "wrong-token", "", "", nil)
	if s1 != 401 || s2 != 401 || missing != wrong {
		t.Errorf("401 bodies: missing %d %q, wrong %d %q; want identical 401s", s1, missing, s2, wrong)
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/authz-sessions/rest/v3/a/b/c", 404},
		{"GET", "/authz-sessions/rest/v2", 404},
		{"PATCH", "/authz-sessions/rest/v3/abc", 405},
		{"GET", "/direct-authz/rest/v2", 405},
		{"GET", "/authz-store/rest/v3/nothing", 404},
		{"GET", "/monitor/v1/nothing", 404},
	} {
		status, body, hdr := call(c.method, c.path, e.apiToken, "", "", nil)
		var m map[string]any
		if status != c.status || json.Unmarshal([]byte(body), &m) != nil || m["error"] == nil || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %q, want a JSON %d", c.method, c.path, status, body, c.status)
		}
	}
	for _, h := range []string{"Issuer", "Tenant-ID"} {
		status, body, _ := call("POST", "/authz-sessions/rest/v3", e.apiToken, "application/json", `{"query":"x"}`, map[string]string{h: "https://other.example"})
		if status != http.StatusBadRequest || !strings.Contains(body, h) {
			t.Errorf("%s header: %d %s, want 400 naming it", h, status, body)
		}
	}
}

// hostilePurpose is a well-formed purpose (3–300 characters) made to break
// out of HTML.
const hostilePurpose = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`

// TestPromptMembers: the auth and consent prompts carry the configured
// request parameters, purpose, claims.purposes, claims.verification,
// claims.raw_request, verified: names and data.
func TestPromptMembers(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Authz.RequestParamsInAuthPrompt = []string{"ui_locales", "x_custom"}
		c.Authz.RequestParamsInConsentPrompt = []string{"purpose"}
		c.Authz.IncludeRawClaimsRequest = true
	})
	r := e.newRP(nil)
	claimsParam := `{"userinfo":{"given_name":{"purpose":"` + strings.ReplaceAll(hostilePurpose, `"`, `\"`) + `"},` +
		`"verified_claims":{"verification":{"trust_framework":null},"claims":{"family_name":{"essential":true,"purpose":"to check your identity"}}}}}`
	authURL := r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("claims", claimsParam), oauth2.SetAuthURLParam("purpose", hostilePurpose),
		oauth2.SetAuthURLParam("ui_locales", "de en"), oauth2.SetAuthURLParam("x_custom", "1"))
	_, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, authURL)})
	req, _ := msg["request"].(map[string]any)
	if msg["type"] != "auth" || req["ui_locales"] != "de en" || req["x_custom"] != "1" || req["purpose"] != nil {
		t.Fatalf("auth prompt request = %v", msg["request"])
	}
	sid := msg["sid"].(string)
	e.authzSession(http.MethodPut, "/"+sid+"/data", map[string]any{"d": 1})
	_, msg = e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": "alice"})
	if msg["type"] != "consent" || msg["purpose"] != hostilePurpose {
		t.Fatalf("consent prompt purpose = %v", msg["purpose"])
	}
	if req, _ := msg["request"].(map[string]any); req["purpose"] != hostilePurpose || req["ui_locales"] != nil {
		t.Errorf("consent prompt request = %v", msg["request"])
	}
	cl := msg["claims"].(map[string]any)
	purposes, _ := cl["purposes"].(map[string]any)
	if purposes["given_name"] != hostilePurpose || purposes["verified:family_name"] != "to check your identity" {
		t.Errorf("claims.purposes = %v", cl["purposes"])
	}
	ess := cl["new"].(map[string]any)["essential"].([]any)
	if !slices.Contains(ess, any("verified:family_name")) {
		t.Errorf("claims.new.essential = %v, want verified:family_name", ess)
	}
	if v, _ := cl["verification"].(map[string]any); v["userinfo"] == nil {
		t.Errorf("claims.verification = %v", cl["verification"])
	}
	if raw, _ := cl["raw_request"].(map[string]any); raw["userinfo"] == nil {
		t.Errorf("claims.raw_request = %v", cl["raw_request"])
	}
	if d, _ := msg["data"].(map[string]any); d["d"] != 1.0 {
		t.Errorf("consent prompt data = %v", msg["data"])
	}
	// Consenting to a verified claim is refused: Keyward does not deliver
	// verified claims.
	status, body := e.authzSession(http.MethodPut, "/"+sid, map[string]any{"scope": []string{"*"}, "claims": []string{"verified:family_name"}})
	if status != http.StatusBadRequest || !strings.Contains(body["error_description"].(string), "verified") {
		t.Errorf("verified claim consent: %d %v, want 400", status, body)
	}
	// A purpose of the wrong length is an invalid request.
	authURL = r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("purpose", "ab"))
	_, msg = e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, authURL)})
	if redirectParams(t, msg).Get("error") != "invalid_request" {
		t.Errorf("short purpose: %v", msg)
	}
}

// TestLoginUIEscapesPurposes: the reference login UI shows purpose and
// claims.purposes on its consent page, escaped.
func TestLoginUIEscapesPurposes(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	b := e.newBrowser()
	claimsParam := `{"userinfo":{"given_name":{"purpose":"` + strings.ReplaceAll(hostilePurpose, `"`, `\"`) + `"}}}`
	resp, page := b.get(r.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("claims", claimsParam), oauth2.SetAuthURLParam("purpose", "P:"+hostilePurpose)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	form := hiddenFields(page)
	form.Set("username", "alice")
	form.Set("password", "alice-password")
	resp, _ = b.submit("/login/authenticate", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, page = b.follow(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `value="allow"`) {
		t.Fatalf("consent page: %d", resp.StatusCode)
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Errorf("the consent page renders a purpose unescaped:\n%s", page)
	}
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 2 {
		t.Errorf("the escaped purposes appear %d times, want the transaction purpose and the claim's", n)
	}
}

// TestPairwiseClient: a client registered with subject_type pairwise and a
// sector_identifier_uri gets a pairwise sub in its ID token, at UserInfo
// and in introspection; two clients of one sector get the same sub, another
// sector another; discovery lists pairwise.
func TestPairwiseClient(t *testing.T) {
	mk, keys := withMasterKey(t)
	e := newEnv(t, mk)
	var sectorDoc []string
	sector := httptestServer(t, func(w http.ResponseWriter, _ *http.Request) { json.NewEncoder(w).Encode(sectorDoc) })

	_, disc := e.doJSON(mustReq(t, http.MethodGet, e.issuer+"/.well-known/openid-configuration"))
	if st, _ := disc["subject_types_supported"].([]any); !slices.Contains(st, any("pairwise")) {
		t.Errorf("subject_types_supported = %v", disc["subject_types_supported"])
	}

	newPairwise := func(sectorURI string) *rp {
		probe := e.newRP(nil) // for a free redirect URI
		sectorDoc = append(sectorDoc, probe.redirectURI)
		r := e.newRP(map[string]any{"subject_type": "pairwise", "sector_identifier_uri": sectorURI, "redirect_uris": []string{probe.redirectURI}})
		r.redirectURI = probe.redirectURI
		r.conf.RedirectURL = probe.redirectURI
		return r
	}
	r1 := newPairwise(sector.URL + "/s1")
	r2 := newPairwise(sector.URL + "/s1")
	sub := func(r *rp) string {
		res := r.flow(keys, nil, nil, nil, nil)
		s, _ := res.id["sub"].(string)
		if _, err := r.verifier.Verify(r.ctx(), res.tok["id_token"].(string)); err != nil {
			t.Errorf("go-oidc: %v", err)
		}
		if status, ui := e.userInfo(res.rawAT); status != http.StatusOK || ui["sub"] != s {
			t.Errorf("userinfo sub %v, ID token sub %s (%d)", ui["sub"], s, status)
		}
		if at := res.at["sub"]; at != s {
			t.Errorf("access token sub %v, ID token sub %s", at, s)
		}
		if status, in := e.introspectBearer(e.apiToken, res.rawAT); status != http.StatusOK || in["sub"] != s {
			t.Errorf("introspection sub %v, ID token sub %s", in["sub"], s)
		}
		if status, in := e.introspectBearer(e.apiToken, res.tok["refresh_token"].(string)); status != http.StatusOK || in["sub"] != s {
			t.Errorf("refresh token introspection sub %v, ID token sub %s", in["sub"], s)
		}
		return s
	}
	s1, s2 := sub(r1), sub(r2)
	want := secret.Pairwise(keys.PairwiseSalt, "sector:127.0.0.1", "alice")
	if s1 != want || s2 != want {
		t.Errorf("pairwise subs %q %q, want %q for the sector", s1, s2, want)
	}
	// Without a sector_identifier_uri the sector is the redirect URIs'
	// host: here the same 127.0.0.1, hence the same sub.
	if s3 := sub(e.newRP(map[string]any{"subject_type": "pairwise"})); s3 != want {
		t.Errorf("pairwise sub without sector_identifier_uri = %q, want %q", s3, want)
	}
	// Another sector, another sub.
	s4 := sub(newPairwise(strings.Replace(sector.URL, "127.0.0.1", "localhost", 1) + "/s2"))
	if s4 == want || s4 == "alice" || s4 != secret.Pairwise(keys.PairwiseSalt, "sector:localhost", "alice") {
		t.Errorf("pairwise sub of another sector = %q", s4)
	}

	// A redirect URI not listed at the sector URI is refused.
	status, body := e.registerClient(map[string]any{"subject_type": "pairwise", "sector_identifier_uri": sector.URL + "/s1",
		"redirect_uris": []string{"https://unlisted.example/cb"}})
	if status != http.StatusBadRequest || body["error"] != "invalid_client_metadata" {
		t.Errorf("unlisted redirect URI: %d %v", status, body)
	}
	// Redirect URIs on several hosts need a sector_identifier_uri.
	status, body = e.registerClient(map[string]any{"subject_type": "pairwise",
		"redirect_uris": []string{"https://a.example/cb", "https://b.example/cb"}})
	if status != http.StatusBadRequest || body["error"] != "invalid_client_metadata" {
		t.Errorf("several hosts: %d %v", status, body)
	}
}

func httptestServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func mustReq(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
