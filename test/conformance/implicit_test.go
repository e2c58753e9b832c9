package conformance

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
	"time"

	"golang.org/x/oauth2"
)

// Implicit OP and Hybrid OP plans (oidcc-implicit-certification-test-plan
// and oidcc-hybrid-certification-test-plan of the OpenID conformance
// suite): the modules of the Basic plan that depend on the response type,
// run for each response type of the two plans, plus the checks the suite
// adds for front-channel tokens (fragment encoding, at_hash, c_hash, nonce).
// The modules that do not depend on the response type are the Basic plan's
// (basic_test.go); README.md lists which module runs where.

// variant is one response type of the Implicit or Hybrid plan.
type variant struct {
	rt                   string
	code, token, idToken bool
}

func newVariant(rt string) variant {
	toks := strings.Fields(rt)
	return variant{rt: rt, code: slices.Contains(toks, "code"), token: slices.Contains(toks, "token"),
		idToken: slices.Contains(toks, "id_token")}
}

var implicitHybridVariants = []string{"id_token", "id_token token", "code id_token", "code token", "code id_token token"}

// newVariantClient registers a confidential client for v's response type,
// with the grant types OpenID Connect Registration §2 requires for it.
func newVariantClient(e *env, v variant) *client {
	grants := []string{"implicit"}
	if v.code {
		grants = append(grants, "authorization_code", "refresh_token")
	}
	return e.newClient("client_secret_basic", map[string]any{"response_types": []string{v.rt}, "grant_types": grants})
}

// variantQuery is the module's default request for v.
func variantQuery(c *client, v variant) url.Values {
	q := c.authQuery()
	q.Set("response_type", v.rt)
	return q
}

// scopeClaims are the claims each scope value requests (OIDC Core §5.4).
// With response_type=id_token they are returned in the ID token.
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
		"picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// vflow is one completed implicit or hybrid flow.
type vflow struct {
	authz *authzResult
	// front is the ID token from the authorisation endpoint, id the one a
	// relying party uses (front, or the token endpoint's for code token).
	front, id *idToken
	// accessToken is the front-channel one, else the token endpoint's.
	accessToken string
	tok         *response
}

// frontHalfHash is at_hash / c_hash (OIDC Core §3.3.2.11) for the ID
// token's algorithm.
func frontHalfHash(t *testing.T, alg, v string) string {
	t.Helper()
	var h hash.Hash
	switch {
	case alg == "EdDSA", strings.HasSuffix(alg, "512"):
		h = sha512.New()
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "256"):
		h = sha256.New()
	default:
		t.Fatalf("no hash for alg %q", alg)
	}
	h.Write([]byte(v))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// implicitFlow authorises q for c and runs the suite's checks for v: the
// response in the fragment (OAuth 2.0 Multiple Response Type Encoding
// Practices §5), state and iss, the front-channel ID token with nonce,
// at_hash (ValidateAtHash) and c_hash (ValidateCHash), the front-channel
// access token, and for a code the token endpoint's standard checks.
func (c *client) implicitFlow(v variant, q url.Values, subSID string, who login) *vflow {
	t := c.e.t
	t.Helper()
	ar := c.e.authorize(q.Encode(), subSID, who)
	if ar.params == nil || ar.params.Has("error") {
		t.Fatalf("authorisation failed: %v", ar.final)
	}
	if mode := q.Get("response_mode"); mode == "" || mode == "fragment" {
		if ar.final["mode"] != "fragment" || ar.location.RawQuery != "" {
			t.Fatalf("response mode %v, location %s: want the fragment and nothing in the query", ar.final["mode"], ar.location)
		}
	}
	if got, want := ar.params.Get("state"), q.Get("state"); got != want {
		t.Errorf("state not echoed: got %d chars, want %d", len(got), len(want))
	}
	if iss := ar.params.Get("iss"); iss != c.e.issuer {
		t.Errorf("iss = %q, want %q (RFC 9207)", iss, c.e.issuer)
	}
	if ar.params.Has("code") != v.code || ar.params.Has("access_token") != v.token || ar.params.Has("id_token") != v.idToken {
		t.Fatalf("response members %v for response_type %q", ar.params, v.rt)
	}
	if ar.params.Has("refresh_token") {
		t.Errorf("a refresh token in the authorisation response (RFC 6749 §4.2.2)")
	}
	f := &vflow{authz: ar}
	if v.token {
		f.accessToken = ar.params.Get("access_token")
		checkTokenValue(t, "front-channel access token", f.accessToken)
		if tt := ar.params.Get("token_type"); !strings.EqualFold(tt, "Bearer") {
			t.Errorf("token_type = %q, want Bearer", tt)
		}
		if ar.params.Get("expires_in") == "" || strings.HasPrefix(ar.params.Get("expires_in"), "-") {
			t.Errorf("expires_in = %q, want a positive number", ar.params.Get("expires_in"))
		}
	}
	if v.idToken {
		var idClaims []string
		if !v.token && !v.code {
			// Without an access token every requested claim comes in
			// the ID token (OIDC Core §5.4), the claims parameter's
			// userinfo members too.
			for _, s := range strings.Fields(q.Get("scope")) {
				idClaims = append(idClaims, scopeClaims[s]...)
			}
			idClaims = append(idClaims, requestedUserInfoClaims(t, q.Get("claims"))...)
		}
		f.front = checkIDToken(t, c, ar.params.Get("id_token"), idTokenExpect{
			nonce: q.Get("nonce"), accessToken: f.accessToken, idClaims: idClaims,
		})
		if v.token && f.front.str("at_hash") != frontHalfHash(t, f.front.alg, f.accessToken) {
			t.Errorf("at_hash %q does not match the access token", f.front.str("at_hash"))
		}
		if !v.token && f.front.str("at_hash") != "" {
			t.Errorf("at_hash without an access token")
		}
		if v.code && f.front.str("c_hash") != frontHalfHash(t, f.front.alg, ar.params.Get("code")) {
			t.Errorf("c_hash %q does not match the code", f.front.str("c_hash"))
		}
		if !v.code && f.front.str("c_hash") != "" {
			t.Errorf("c_hash without a code")
		}
		f.id = f.front
	}
	if v.code {
		f.tok = c.redeem(ar.params.Get("code"), nil)
		back := checkStandardFlow(t, c, q, ar, f.tok)
		if f.front != nil && back.tok.Subject != f.front.tok.Subject {
			t.Errorf("token endpoint sub %q, front-channel sub %q (OIDC Core §3.3.3.6)", back.tok.Subject, f.front.tok.Subject)
		}
		if f.id == nil {
			f.id = back
		}
		if f.accessToken == "" {
			f.accessToken = f.tok.str("access_token")
		}
	}
	return f
}

// TestImplicitHybridPlans runs the response-type dependent modules for
// each response type of the two plans. Each variant has its own node.
func TestImplicitHybridPlans(t *testing.T) {
	for _, rt := range implicitHybridVariants {
		t.Run(strings.ReplaceAll(rt, " ", "+"), func(t *testing.T) {
			e := newEnv(t)
			v := newVariant(rt)
			c := newVariantClient(e, v)
			runVariantModules(t, e, c, v)
		})
	}
}

func runVariantModules(t *testing.T, e *env, c *client, v variant) {
	// Subtests share the variant's node; each gets t for its failures.
	with := func(t *testing.T) *client { cc := *c; e2 := *e; e2.t = t; cc.e = &e2; return &cc }

	t.Run("oidcc-server", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("state", strings.Repeat("s", 1000))
		q.Set("nonce", strings.Repeat("n", 384))
		if f := c.implicitFlow(v, q, "", alice); f.id.tok.Subject != "alice" {
			t.Errorf("sub = %q", f.id.tok.Subject)
		}
	})

	t.Run("oidcc-idtoken-signature", func(t *testing.T) {
		c := with(t)
		f := c.implicitFlow(v, variantQuery(c, v), "", alice)
		if f.id.alg != "RS256" || f.id.kid == "" {
			t.Errorf("ID token alg %q kid %q, want RS256 (the default) with a kid", f.id.alg, f.id.kid)
		}
	})

	for _, m := range []string{http.MethodGet, "POST-header", "POST-body"} {
		name := map[string]string{http.MethodGet: "oidcc-userinfo-get", "POST-header": "oidcc-userinfo-post-header", "POST-body": "oidcc-userinfo-post-body"}[m]
		t.Run(name, func(t *testing.T) {
			if !v.token && !v.code {
				t.Skip("does not apply: response_type id_token issues no access token")
			}
			c := with(t)
			f := c.implicitFlow(v, variantQuery(c, v), "", alice)
			var r *response
			switch m {
			case http.MethodGet:
				r = c.e.userinfo(http.MethodGet, f.accessToken)
			case "POST-header":
				r = c.e.userinfo(http.MethodPost, f.accessToken)
			default:
				r = c.e.postForm(c.e.issuer+"/userinfo", url.Values{"access_token": {f.accessToken}}, nil)
			}
			checkUserInfo(t, r, f.id)
		})
	}

	t.Run("oidcc-ensure-request-without-nonce-fails", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Del("nonce")
		if !v.idToken {
			// code token returns no ID token from the authorisation
			// endpoint, so the nonce stays optional as in the code flow.
			f := c.implicitFlow(v, q, "", alice)
			if _, ok := f.id.claims["nonce"]; ok {
				t.Errorf("ID token carries a nonce the request did not send")
			}
			return
		}
		ar := c.e.authorize(q.Encode(), "", alice)
		checkErrorRedirect(t, c.e, q, ar, "invalid_request")
		if ar.final["mode"] != "fragment" {
			t.Errorf("error in mode %v, want fragment", ar.final["mode"])
		}
	})

	for _, sc := range []string{"profile", "email", "address", "phone", "all"} {
		t.Run("oidcc-scope-"+sc, func(t *testing.T) {
			c := with(t)
			scopes := []string{sc}
			if sc == "all" {
				scopes = []string{"profile", "email", "address", "phone"}
			}
			q := variantQuery(c, v)
			q.Set("scope", scopeOf(append([]string{"openid"}, scopes...)...))
			f := c.implicitFlow(v, q, "", alice)
			got := f.id.claims
			where := "ID token"
			if v.token || v.code {
				got = checkUserInfo(t, c.e.userinfo(http.MethodGet, f.accessToken), f.id)
				where = "userinfo"
			}
			for _, s := range scopes {
				want := scopeClaims[s][0]
				if s == "profile" {
					want = "name"
				}
				if _, ok := got[want]; !ok {
					t.Errorf("%s lacks %q for scope %s: %v", where, want, s, got)
				}
			}
		})
	}

	t.Run("oidcc-claims-essential", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("claims", `{"userinfo":{"name":{"essential":true}}}`)
		f := c.implicitFlow(v, q, "", alice)
		got, where := f.id.claims, "ID token"
		if v.token || v.code {
			got, where = checkUserInfo(t, c.e.userinfo(http.MethodGet, f.accessToken), f.id), "userinfo"
		}
		if got["name"] != "Alice Adams" {
			t.Errorf("%s name = %v, want Alice Adams", where, got["name"])
		}
	})

	t.Run("oidcc-ensure-other-scope-order-succeeds", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("scope", "email openid")
		c.implicitFlow(v, q, "", alice)
	})

	t.Run("oidcc-prompt-none-not-logged-in", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("prompt", "none")
		ar := c.e.authorize(q.Encode(), "", alice)
		if len(ar.prompts) > 0 {
			t.Fatalf("prompt=none showed UI: %v", ar.prompts)
		}
		checkErrorRedirect(t, c.e, q, ar, "login_required", "interaction_required", "consent_required")
		if ar.final["mode"] != "fragment" {
			t.Errorf("error in mode %v, want fragment", ar.final["mode"])
		}
	})

	t.Run("oidcc-prompt-none-logged-in", func(t *testing.T) {
		c := with(t)
		first := c.implicitFlow(v, variantQuery(c, v), "", alice)
		q := variantQuery(c, v)
		q.Set("prompt", "none")
		second := c.implicitFlow(v, q, first.authz.subSID, alice)
		if len(second.authz.prompts) > 0 {
			t.Errorf("prompt=none with a session showed UI: %v", second.authz.prompts)
		}
		if second.id.tok.Subject != first.id.tok.Subject || second.id.num("auth_time") != first.id.num("auth_time") {
			t.Errorf("sub/auth_time %s/%d, want %s/%d", second.id.tok.Subject, second.id.num("auth_time"),
				first.id.tok.Subject, first.id.num("auth_time"))
		}
	})

	t.Run("oidcc-max-age-1", func(t *testing.T) {
		c := with(t)
		first := c.implicitFlow(v, variantQuery(c, v), "", alice)
		c.e.clock.Advance(2 * time.Second)
		q := variantQuery(c, v)
		q.Set("max_age", "1")
		second := c.implicitFlow(v, q, first.authz.subSID, alice)
		if !second.authz.prompted("auth") || second.id.num("auth_time") <= first.id.num("auth_time") {
			t.Errorf("max_age=1 after 2 s: prompts %v, auth_time %d then %d", second.authz.prompts,
				first.id.num("auth_time"), second.id.num("auth_time"))
		}
	})

	t.Run("oidcc-ensure-request-with-unknown-parameter-succeeds", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("extra", "foobar")
		c.implicitFlow(v, q, "", alice)
	})

	t.Run("oidcc-id-token-hint", func(t *testing.T) {
		c := with(t)
		first := c.implicitFlow(v, variantQuery(c, v), "", alice)
		q := variantQuery(c, v)
		q.Set("prompt", "none")
		q.Set("id_token_hint", first.id.raw)
		second := c.implicitFlow(v, q, first.authz.subSID, alice)
		if len(second.authz.prompts) > 0 || second.id.tok.Subject != first.id.tok.Subject {
			t.Errorf("prompts %v sub %q, want none and %q", second.authz.prompts, second.id.tok.Subject, first.id.tok.Subject)
		}
	})

	t.Run("oidcc-codereuse", func(t *testing.T) {
		if !v.code {
			t.Skip("does not apply: no code")
		}
		c := with(t)
		f := c.implicitFlow(v, variantQuery(c, v), "", alice)
		r := c.redeem(f.authz.params.Get("code"), nil)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("second redemption: %d %s, want 400 invalid_grant", r.status, r.raw)
		}
	})

	t.Run("oidcc-codereuse-30seconds", func(t *testing.T) {
		if !v.code {
			t.Skip("does not apply: no code")
		}
		c := with(t)
		f := c.implicitFlow(v, variantQuery(c, v), "", alice)
		at := f.tok.str("access_token")
		c.e.clock.Advance(30 * time.Second)
		r := c.redeem(f.authz.params.Get("code"), nil)
		if r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("redemption after 30 s: %d %s, want 400 invalid_grant", r.status, r.raw)
		}
		if ui := c.e.userinfo(http.MethodGet, at); ui.status != http.StatusUnauthorized {
			t.Errorf("userinfo with the first redemption's token after the replay: %d, want 401", ui.status)
		}
	})

	t.Run("oidcc-refresh-token", func(t *testing.T) {
		if !v.code {
			t.Skip("does not apply: the authorisation endpoint never issues refresh tokens")
		}
		c := with(t)
		q := variantQuery(c, v)
		q.Set("scope", "openid offline_access")
		q.Set("prompt", "consent")
		f := c.implicitFlow(v, q, "", alice)
		rt := f.tok.str("refresh_token")
		if rt == "" {
			t.Fatalf("no refresh token from the hybrid code: %s", f.tok.raw)
		}
		r := c.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if r.status != http.StatusOK || r.str("access_token") == "" {
			t.Errorf("refresh: %d %s", r.status, r.raw)
		}
	})

	t.Run("oidcc-ensure-request-with-valid-pkce-succeeds", func(t *testing.T) {
		if !v.code {
			t.Skip("does not apply: no code")
		}
		c := with(t)
		verifier := oauth2.GenerateVerifier()
		q := variantQuery(c, v)
		q.Set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier))
		q.Set("code_challenge_method", "S256")
		ar := c.e.authorize(q.Encode(), "", alice)
		if ar.params == nil || ar.params.Get("code") == "" {
			t.Fatalf("no code: %v", ar.final)
		}
		checkStandardFlow(t, c, q, ar, c.redeem(ar.params.Get("code"), url.Values{"code_verifier": {verifier}}))
	})

	// Beyond the suite, from the response-mode rules it relies on: query
	// is refused for a token response type, form_post works.
	t.Run("response-mode-query-refused", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("response_mode", "query")
		ar := c.e.authorize(q.Encode(), "", alice)
		checkErrorRedirect(t, c.e, q, ar, "invalid_request")
		if ar.location.RawQuery != "" {
			t.Errorf("error sent in the query: %s", ar.location)
		}
	})
	t.Run("response-mode-form-post", func(t *testing.T) {
		c := with(t)
		q := variantQuery(c, v)
		q.Set("response_mode", "form_post")
		f := c.implicitFlow(v, q, "", alice)
		if f.authz.final["mode"] != "form_post" {
			t.Errorf("mode %v, want form_post", f.authz.final["mode"])
		}
	})
}

// requestedUserInfoClaims returns the member names of the claims
// parameter's userinfo object.
func requestedUserInfoClaims(t *testing.T, claimsParam string) []string {
	t.Helper()
	if claimsParam == "" {
		return nil
	}
	var cp struct {
		UserInfo map[string]any `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(claimsParam), &cp); err != nil {
		t.Fatalf("claims parameter: %v", err)
	}
	var out []string
	for k := range cp.UserInfo {
		out = append(out, k)
	}
	return out
}
