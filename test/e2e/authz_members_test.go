package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
)

// memberCase is one member of the authorisation session API (Connect2id's
// start request, subject authentication and consent submission).
type memberCase struct {
	// member is the dotted name; stage is "start", "auth" or "consent".
	member, stage string
	// value is a valid value; honoured checks its effect. A member whose
	// effect needs a dedicated setup names the test that shows it in
	// honouredBy instead.
	value      any
	honoured   func(t *testing.T, e *env, r *rp, res *flowResult)
	honouredBy string
	// bad is a value that must be refused with a 400 naming the member.
	bad any
}

// knownMembers lists every member of the start request, the subject
// authentication and the consent submission that Connect2id documents
// (https://connect2id.com/products/server/docs/integration/authz-session);
// docs/api.md §3 gives each one's status.
var knownMembers = []string{
	"query", "sub_sid", "redirect_uri_template_param", "fpt",
	"sub", "acr", "amr", "auth_time", "claims", "data", "max_life", "auth_life", "max_idle",
	"scope", "claims", "preset_claims", "claims_locales", "claims_transport", "claims_data", "audience",
	"long_lived", "data", "access_token.lifetime", "access_token.encoding", "access_token.encrypt",
	"access_token.sub_type", "refresh_token.issue", "refresh_token.lifetime", "refresh_token.max_idle",
	"refresh_token.rotate", "id_token.lifetime", "id_token.impersonated_sub", "id_token.allow_refresh",
}

// setMember puts value at the dotted member path of body.
func setMember(body map[string]any, member string, value any) {
	parent, leaf, nested := strings.Cut(member, ".")
	if !nested {
		body[parent] = value
		return
	}
	m, _ := body[parent].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m[leaf] = value
	body[parent] = m
}

// authzRecord reads the long-lived authorisation of alice for r from the
// authorisation store API (compact names, api.md §13).
func authzRecord(t *testing.T, e *env, r *rp) map[string]any {
	t.Helper()
	c := e.store(http.MethodGet, "/authorizations?subject=alice&client_id="+url.QueryEscape(r.clientID), "", "")
	return c.object(t)
}

func subSession(t *testing.T, res *flowResult) map[string]any {
	t.Helper()
	ss, _ := res.auth["sub_session"].(map[string]any)
	if ss == nil {
		t.Fatalf("consent prompt without sub_session: %v", res.auth)
	}
	return ss
}

// TestEveryKnownMemberHonouredOrRefused is the rule of docs/api.md §3:
// every member Keyward knows is honoured — its effect is asserted here, in
// the tokens, prompts or stored authorisation — or refused with 400
// invalid_request naming it; a bad value of it is always refused so.
func TestEveryKnownMemberHonouredOrRefused(t *testing.T) {
	mk, keys := withMasterKey(t)
	e := newEnv(t, mk, func(c *config.Config) {
		c.Tokens.AccessTokenProfile = "c2id-1.1"
		c.Tokens.IDTokenSessionClaims = []string{"*"}
	})
	authTime := time.Now().Add(-time.Hour).Unix()
	cases := []memberCase{
		{member: "query", stage: "start", value: nil,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.start["type"] != "auth" {
					t.Errorf("start: %v", res.start)
				}
			}},
		{member: "sub_sid", stage: "start", honouredBy: "TestSSOSkipsLoginForSecondClient, TestFingerprint"},
		{member: "redirect_uri_template_param", stage: "start", honouredBy: "TestRedirectURITemplate", bad: "a.b"},
		{member: "fpt", stage: "start", value: fingerprint("ua"), bad: "not-a-hash",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["sub"] != "alice" {
					t.Errorf("flow with fpt: %v", res.id)
				}
			}},
		{member: "sub", stage: "auth", value: "alice", bad: "",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["sub"] != "alice" {
					t.Errorf("ID token sub = %v", res.id["sub"])
				}
			}},
		{member: "acr", stage: "auth", value: "urn:loa:2", bad: 2,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["acr"] != "urn:loa:2" {
					t.Errorf("ID token acr = %v", res.id["acr"])
				}
			}},
		{member: "amr", stage: "auth", value: []string{"otp"}, bad: "otp",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if a, _ := res.id["amr"].([]any); len(a) != 1 || a[0] != "otp" {
					t.Errorf("ID token amr = %v", res.id["amr"])
				}
			}},
		{member: "auth_time", stage: "auth", value: authTime, bad: -1,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["auth_time"] != float64(authTime) {
					t.Errorf("ID token auth_time = %v, want %d", res.id["auth_time"], authTime)
				}
			}},
		{member: "claims", stage: "auth", value: map[string]any{"login_ip": "198.51.100.1"}, bad: []string{"x"},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["login_ip"] != "198.51.100.1" {
					t.Errorf("session claim in the ID token = %v", res.id["login_ip"])
				}
			}},
		{member: "data", stage: "auth", value: map[string]any{"name": "Ann"}, bad: "Ann",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if d, _ := subSession(t, res)["data"].(map[string]any); d["name"] != "Ann" {
					t.Errorf("sub_session.data = %v", d)
				}
			}},
		{member: "max_life", stage: "auth", value: 60, bad: "long",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if v := subSession(t, res)["max_life"]; v != 60.0 {
					t.Errorf("sub_session.max_life = %v", v)
				}
			}},
		{member: "auth_life", stage: "auth", value: 30, bad: "long",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if v := subSession(t, res)["auth_life"]; v != 30.0 {
					t.Errorf("sub_session.auth_life = %v", v)
				}
			}},
		{member: "max_idle", stage: "auth", value: 15, bad: "long",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if v := subSession(t, res)["max_idle"]; v != 15.0 {
					t.Errorf("sub_session.max_idle = %v", v)
				}
			}},
		{member: "scope", stage: "consent", value: []string{"openid"}, bad: []string{"a b"},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.tok["scope"] != "openid" {
					t.Errorf("token scope = %v", res.tok["scope"])
				}
			}},
		{member: "claims", stage: "consent", value: []string{"access_token:email"}, bad: []string{"verified:email"},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.at["email"] != "alice@example.com" {
					t.Errorf("access token email = %v", res.at["email"])
				}
			}},
		{member: "preset_claims", stage: "consent", value: map[string]any{"id_token": map[string]any{"org": "acme"}},
			bad: map[string]any{"access_token": map[string]any{}},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["org"] != "acme" {
					t.Errorf("ID token org = %v", res.id["org"])
				}
			}},
		{member: "claims_locales", stage: "consent", value: []string{"de"}, bad: []string{""},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if c, _ := res.at["cls"].([]any); len(c) != 1 || c[0] != "de" {
					t.Errorf("access token cls = %v", res.at["cls"])
				}
			}},
		{member: "claims_transport", stage: "consent", value: "ID_TOKEN", bad: "BOTH",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["email"] != "alice@example.com" {
					t.Errorf("ID token email = %v", res.id["email"])
				}
			}},
		{member: "claims_data", stage: "consent", value: map[string]any{"ref": "r"}, bad: "r",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if c, _ := res.at["cld"].(map[string]any); c["ref"] != "r" {
					t.Errorf("access token cld = %v", res.at["cld"])
				}
			}},
		{member: "audience", stage: "consent", value: []string{"https://rs.example"}, bad: []string{""},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if a, _ := res.at["aud"].([]any); len(a) != 1 || a[0] != "https://rs.example" {
					t.Errorf("access token aud = %v", res.at["aud"])
				}
			}},
		{member: "long_lived", stage: "consent", value: true, bad: "yes",
			honoured: func(t *testing.T, e *env, r *rp, _ *flowResult) {
				if a := authzRecord(t, e, r); a["lng"] != true {
					t.Errorf("stored authorisation = %v", a)
				}
			}},
		{member: "data", stage: "consent", value: map[string]any{"k": "v"}, bad: []int{1},
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if d, _ := res.at["dat"].(map[string]any); d["k"] != "v" {
					t.Errorf("access token dat = %v", res.at["dat"])
				}
			}},
		{member: "access_token.lifetime", stage: "consent", value: 120, bad: -1,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.tok["expires_in"] != 120.0 {
					t.Errorf("expires_in = %v", res.tok["expires_in"])
				}
			}},
		{member: "access_token.encoding", stage: "consent", value: "IDENTIFIER", bad: "JWT",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.atParts != 1 {
					t.Errorf("IDENTIFIER access token has %d parts", res.atParts)
				}
			}},
		{member: "access_token.encrypt", stage: "consent", value: true, bad: "yes",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.atParts != 5 || res.at["cid"] == nil {
					t.Errorf("encrypted access token: %d parts, claims %v", res.atParts, res.at)
				}
			}},
		{member: "access_token.sub_type", stage: "consent", value: "PAIRWISE", bad: "SOMETIMES",
			honoured: func(t *testing.T, e *env, r *rp, res *flowResult) {
				if res.at["sub"] == "alice" || res.at["sub_type"] != "PAIRWISE" {
					t.Errorf("pairwise access token: sub %v sub_type %v", res.at["sub"], res.at["sub_type"])
				}
				if a := authzRecord(t, e, r); a["ats"] != "PAIRWISE" {
					t.Errorf("stored ats = %v", a["ats"])
				}
			}},
		{member: "refresh_token.issue", stage: "consent", value: false, bad: "no",
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.tok["refresh_token"] != nil {
					t.Error("a refresh token was issued")
				}
			}},
		{member: "refresh_token.lifetime", stage: "consent", value: 3600, bad: -1,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.tok["refresh_token_expires_in"] != 3600.0 {
					t.Errorf("refresh_token_expires_in = %v", res.tok["refresh_token_expires_in"])
				}
			}},
		{member: "refresh_token.max_idle", stage: "consent", value: 600, bad: -1,
			honoured: func(t *testing.T, e *env, r *rp, _ *flowResult) {
				if a := authzRecord(t, e, r); a["rtm"] != 600.0 {
					t.Errorf("stored rtm = %v", a["rtm"])
				}
			}},
		{member: "refresh_token.rotate", stage: "consent", value: true, bad: "x",
			honoured: func(t *testing.T, e *env, r *rp, _ *flowResult) {
				if a := authzRecord(t, e, r); a["rtr"] != true {
					t.Errorf("stored rtr = %v", a["rtr"])
				}
			}},
		{member: "id_token.lifetime", stage: "consent", value: 100, bad: -1,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if d := res.id["exp"].(float64) - res.id["iat"].(float64); d != 100 {
					t.Errorf("ID token lifetime = %v", d)
				}
			}},
		{member: "id_token.impersonated_sub", stage: "consent", value: "bob", bad: 5,
			honoured: func(t *testing.T, _ *env, _ *rp, res *flowResult) {
				if res.id["sub"] != "bob" {
					t.Errorf("ID token sub = %v", res.id["sub"])
				}
			}},
		{member: "id_token.allow_refresh", stage: "consent", value: true, bad: "x",
			honoured: func(t *testing.T, e *env, r *rp, _ *flowResult) {
				if a := authzRecord(t, e, r); a["idr"] != true {
					t.Errorf("stored idr = %v", a["idr"])
				}
			}},
	}

	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.stage+":"+c.member] = true
		if c.honoured == nil && c.honouredBy == "" && c.bad == nil {
			t.Errorf("%s: neither honoured nor refused", c.member)
		}
	}
	for _, m := range knownMembers {
		found := false
		for _, st := range []string{"start", "auth", "consent"} {
			found = found || covered[st+":"+m]
		}
		if !found {
			t.Errorf("member %s is not covered", m)
		}
	}

	run := func(t *testing.T, c memberCase, value any) (*rp, *flowResult) {
		r := e.newRP(nil)
		start, auth := map[string]any{}, map[string]any{}
		consent := map[string]any{"long_lived": true}
		stage := map[string]map[string]any{"start": start, "auth": auth, "consent": consent}[c.stage]
		if c.member != "query" {
			setMember(stage, c.member, value)
		}
		if c.member == "access_token.sub_type" {
			consent["audience"] = []string{"https://rs.example"}
		}
		return r, r.flow(keys, nil, start, auth, consent)
	}
	for _, c := range cases {
		t.Run(c.stage+"/"+c.member, func(t *testing.T) {
			if c.honoured != nil {
				r, res := run(t, c, c.value)
				if res.tok == nil {
					t.Fatalf("valid %s refused: start %d %v auth %d %v consent %d %v", c.member,
						res.startStatus, res.start, res.authStatus, res.auth, res.consentStatus, res.consent)
				}
				c.honoured(t, e, r, res)
			}
			if c.bad != nil {
				_, res := run(t, c, c.bad)
				status, body := map[string]int{"start": res.startStatus, "auth": res.authStatus, "consent": res.consentStatus}[c.stage],
					map[string]map[string]any{"start": res.start, "auth": res.auth, "consent": res.consent}[c.stage]
				desc, _ := body["error_description"].(string)
				if status != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(desc, c.member) {
					t.Errorf("bad %s %v: %d %v, want 400 invalid_request naming the member", c.member, c.bad, status, body)
				}
			}
		})
	}

	// Unknown members of the nested objects are refused, never ignored.
	for _, m := range []string{"access_token.encrypted", "refresh_token.issued", "id_token.sub", "preset_claims.access_token"} {
		_, res := run(t, memberCase{member: m, stage: "consent"}, true)
		desc, _ := res.consent["error_description"].(string)
		if res.consentStatus != http.StatusBadRequest || !strings.Contains(desc, m) {
			t.Errorf("unknown %s: %d %v, want 400 naming it", m, res.consentStatus, res.consent)
		}
	}
	// Combinations Keyward cannot honour are refused.
	for name, consent := range map[string]map[string]any{
		"access_token.encrypt":  {"access_token": map[string]any{"encrypt": true, "encoding": "IDENTIFIER"}},
		"access_token.sub_type": {"access_token": map[string]any{"sub_type": "PAIRWISE"}},
		"access_token:":         {"claims": []string{"access_token:email"}, "access_token": map[string]any{"encoding": "IDENTIFIER"}},
	} {
		r := e.newRP(nil)
		res := r.flow(keys, nil, nil, nil, consent)
		desc, _ := res.consent["error_description"].(string)
		if res.consentStatus != http.StatusBadRequest || !strings.Contains(desc, name) {
			t.Errorf("%s combination: %d %v, want 400 naming it", name, res.consentStatus, res.consent)
		}
	}
}
