package conformance

import (
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/oauth"
)

// idToken is a verified ID token with its header and claims.
type idToken struct {
	raw    string
	tok    *oidc.IDToken
	alg    string
	kid    string
	claims map[string]any
}

func (i *idToken) num(k string) int64 {
	f, _ := i.claims[k].(float64)
	return int64(f)
}

func (i *idToken) str(k string) string { s, _ := i.claims[k].(string); return s }

// checkStandardFlow runs the checks the suite applies inside every flow
// module (the conformance suite's AbstractOIDCCServerTest,
// PerformStandardIdTokenChecks) on a completed code flow: request req, its
// authorisation result ar and the token response tok. It returns the
// verified ID token.
func checkStandardFlow(t *testing.T, c *client, req url.Values, ar *authzResult, tok *response) *idToken {
	t.Helper()
	e := c.e
	_, md := checkDiscoveryAndJWKS(t, e)

	// Authorization response (RFC 6749 §4.1.2, RFC 9207 §2).
	if got, want := ar.params.Get("state"), req.Get("state"); got != want {
		t.Errorf("state not echoed: got %d chars, want %d", len(got), len(want))
	}
	iss, hasIss := ar.params["iss"]
	if md["authorization_response_iss_parameter_supported"] == true && !hasIss {
		t.Errorf("iss missing from the authorization response although advertised (RFC 9207 §2)")
	}
	if hasIss && (len(iss) != 1 || iss[0] != e.issuer) {
		t.Errorf("authorization response iss = %v, want %q (RFC 9207 §2.4)", iss, e.issuer)
	}
	code := ar.params.Get("code")
	checkTokenValue(t, "authorization code", code)

	// Token response (RFC 6749 §5.1).
	if tok.status != http.StatusOK {
		t.Fatalf("token response: status %d, want 200: %s", tok.status, tok.raw)
	}
	checkTokenResponseHeaders(t, tok)
	if tt := tok.str("token_type"); !strings.EqualFold(tt, "Bearer") {
		t.Errorf("token_type = %q, want Bearer", tt)
	}
	if exp, ok := tok.body["expires_in"].(float64); !ok || exp <= 0 {
		t.Errorf("expires_in = %v, want a positive number", tok.body["expires_in"])
	}
	checkTokenValue(t, "access token", tok.str("access_token"))
	if rt, ok := tok.body["refresh_token"]; ok {
		s, _ := rt.(string)
		checkTokenValue(t, "refresh token", s)
	}

	raw := tok.str("id_token")
	if raw == "" {
		t.Fatalf("token response without id_token for an OpenID request: %s", tok.raw)
	}
	return checkIDToken(t, c, raw, idTokenExpect{
		nonce:       req.Get("nonce"),
		accessToken: tok.str("access_token"),
		idClaims:    requestedIDTokenClaims(t, req.Get("claims")),
		acrValues:   strings.Fields(req.Get("acr_values")),
	})
}

// checkTokenResponseHeaders: JSON content type and no caching
// (RFC 6749 §5.1).
func checkTokenResponseHeaders(t *testing.T, tok *response) {
	t.Helper()
	if mt, _, err := mime.ParseMediaType(tok.header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("token response Content-Type = %q, want application/json", tok.header.Get("Content-Type"))
	}
	if cc := tok.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control = %q, want no-store", cc)
	}
}

// idTokenExpect is what the request implies for the ID token.
type idTokenExpect struct {
	nonce string
	// refreshed: a nonce, if present, must equal nonce (OIDC Core §12.2).
	refreshed   bool
	accessToken string
	// idClaims are the claim names the request asked for in the ID token
	// (claims parameter, OIDC Core §5.5).
	idClaims  []string
	acrValues []string
}

// registeredIDTokenClaims may appear in any ID token (OIDC Core §2,
// §3.1.3.6; OIDC Front-Channel Logout §3 for sid).
var registeredIDTokenClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
	"azp", "at_hash", "c_hash", "sid"}

// checkIDToken runs ValidateIdToken and the other ID token checks of the
// suite: signature (go-oidc against the OP's JWKS), iss, aud, exp, iat,
// auth_time, acr, nonce, sub, at_hash, and no claims that were not asked
// for (OIDC Core §5.4: scope claims go to UserInfo when an access token is
// issued).
func checkIDToken(t *testing.T, c *client, raw string, want idTokenExpect) *idToken {
	t.Helper()
	e := c.e
	tok, err := c.verifier.Verify(e.ctx(), raw)
	if err != nil {
		t.Fatalf("go-oidc rejected the ID token: %v", err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512,
		jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		t.Fatalf("ID token is not a single-signature JWS: %v", err)
	}
	h := jws.Signatures[0].Header
	id := &idToken{raw: raw, tok: tok, alg: h.Algorithm, kid: h.KeyID}
	if err := tok.Claims(&id.claims); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}

	now := e.clock.Now()
	if tok.Issuer != e.issuer {
		t.Errorf("ID token iss = %q, want %q", tok.Issuer, e.issuer)
	}
	if !slices.Contains(tok.Audience, c.id) {
		t.Errorf("ID token aud = %v, want it to contain %q", tok.Audience, c.id)
	}
	if len(tok.Audience) > 1 && id.str("azp") != c.id {
		t.Errorf("ID token with several audiences has azp %q, want %q (OIDC Core §2)", id.str("azp"), c.id)
	}
	if exp := id.num("exp"); exp <= now.Unix() || exp > now.AddDate(50, 0, 0).Unix() {
		t.Errorf("ID token exp %d is not in the future or more than 50 years away (now %d)", exp, now.Unix())
	}
	if _, ok := id.claims["iat"].(float64); !ok {
		t.Errorf("ID token without numeric iat")
	} else if iat := id.num("iat"); iat > now.Unix() || iat < now.Add(-5*time.Minute).Unix() {
		t.Errorf("ID token iat %d is in the future or more than 5 minutes old (now %d)", iat, now.Unix())
	}
	if at, ok := id.claims["auth_time"]; ok {
		f, isNum := at.(float64)
		if !isNum || int64(f) > now.Unix() || int64(f) < now.AddDate(-1, 0, 0).Unix() {
			t.Errorf("ID token auth_time %v is not a time in the past year (now %d)", at, now.Unix())
		}
	}
	if acr, ok := id.claims["acr"]; ok {
		if s, _ := acr.(string); s == "" {
			t.Errorf("ID token acr is present but empty: %v", acr)
		} else if len(want.acrValues) > 0 && !slices.Contains(want.acrValues, s) {
			t.Errorf("ID token acr %q is none of the requested %v", s, want.acrValues)
		}
	}
	switch got, has := id.claims["nonce"]; {
	case want.refreshed && !has:
		// OIDC Core §12.2: a refreshed ID token SHOULD NOT have a nonce;
		// if it has one, it is the original's.
	case want.nonce == "" && has:
		t.Errorf("ID token carries a nonce the request did not send")
	case want.nonce != "" && got != any(want.nonce):
		s, _ := got.(string)
		t.Errorf("ID token nonce: got %d chars, want %d", len(s), len(want.nonce))
	}
	if tok.Subject == "" {
		t.Errorf("ID token without sub")
	}
	if ua, ok := id.claims["updated_at"]; ok {
		if _, isNum := ua.(float64); !isNum {
			t.Errorf("ID token updated_at %v is not a number (OIDC Core §5.1)", ua)
		}
	}
	if want.accessToken != "" && tok.AccessTokenHash != "" {
		if err := tok.VerifyAccessToken(want.accessToken); err != nil {
			t.Errorf("at_hash: %v", err)
		}
	}
	if _, ok := id.claims["name"]; ok && !slices.Contains(want.idClaims, "name") {
		t.Errorf("ID token contains name although the request did not ask for it in the ID token")
	}
	for k := range id.claims {
		if !slices.Contains(registeredIDTokenClaims, k) && !slices.Contains(want.idClaims, k) {
			t.Errorf("ID token contains the unrequested claim %q", k)
		}
	}
	return id
}

// requestedIDTokenClaims returns the member names of the claims
// parameter's id_token object.
func requestedIDTokenClaims(t *testing.T, claimsParam string) []string {
	t.Helper()
	if claimsParam == "" {
		return nil
	}
	var cr struct {
		IDToken map[string]json.RawMessage `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(claimsParam), &cr); err != nil {
		t.Fatalf("test bug: claims parameter %q: %v", claimsParam, err)
	}
	var out []string
	for k := range cr.IDToken {
		out = append(out, k)
	}
	return out
}

// checkTokenValue: codes and tokens are 1*VSCHAR (RFC 6749 Appendix A.11,
// A.12, A.17), at least 128 bits long and with an estimated entropy of at
// least 96 bits (EnsureMinimumAuthorizationCodeLength/Entropy,
// EnsureMinimumAccessTokenEntropy).
func checkTokenValue(t *testing.T, what, v string) {
	t.Helper()
	if v == "" {
		t.Errorf("%s is missing", what)
		return
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			t.Errorf("%s contains the disallowed byte %#x at %d", what, v[i], i)
			return
		}
	}
	if bits := len(v) * 8; bits < 128 {
		t.Errorf("%s is %d bits long, want at least 128", what, bits)
	}
	if bits := entropyBits(v); bits < 96 {
		t.Errorf("%s has an estimated entropy of %.0f bits, want at least 96", what, bits)
	}
}

// entropyBits estimates the entropy of a random token as its length times
// log2 of the smallest common alphabet its characters fit in, capped by the
// characters it actually uses so that "aaaa…" does not pass.
func entropyBits(v string) float64 {
	in := func(set string) bool {
		for _, r := range v {
			if !strings.ContainsRune(set, r) {
				return false
			}
		}
		return true
	}
	const (
		digits    = "0123456789"
		hexLower  = digits + "abcdef"
		hexUpper  = digits + "ABCDEF"
		base32    = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567="
		base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		base64std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
		jwtChars  = base64url + "."
	)
	size := 95.0 // VSCHAR
	for _, a := range []struct {
		set  string
		size float64
	}{{digits, 10}, {hexLower, 16}, {hexUpper, 16}, {base32, 32}, {base64url, 64}, {base64std, 64}, {jwtChars, 64}} {
		if in(a.set) {
			size = a.size
			break
		}
	}
	distinct := map[rune]bool{}
	for _, r := range v {
		distinct[r] = true
	}
	// A random string of n characters over a large alphabet uses about
	// min(n, alphabet) distinct ones; far fewer means it is not random.
	if d := float64(len(distinct)); d < size && d < float64(len(v))/4 {
		size = d
	}
	return float64(len(v)) * math.Log2(size)
}

// checkDiscoveryAndJWKS: discovery is served as JSON, its issuer is ours,
// and its JWKS is valid with a unique kid on every key.
func checkDiscoveryAndJWKS(t *testing.T, e *env) (*response, map[string]any) {
	t.Helper()
	r, md := e.discovery()
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("discovery Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	if md["issuer"] != e.issuer {
		t.Errorf("discovery issuer = %v, want %q", md["issuer"], e.issuer)
	}
	jwksURI, _ := md["jwks_uri"].(string)
	if jwksURI == "" {
		t.Fatalf("discovery without jwks_uri")
	}
	checkJWKS(t, e, jwksURI)
	return r, md
}

// checkJWKS fetches a JWK set and checks every key parses, is public, has
// a kid, and that no two keys share one. It returns the kids in order.
func checkJWKS(t *testing.T, e *env, jwksURI string) []string {
	t.Helper()
	r := e.get(jwksURI, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET jwks_uri: status %d", r.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.raw, &set); err != nil {
		t.Fatalf("jwks_uri is not a JWK set: %v", err)
	}
	if len(set.Keys) == 0 {
		t.Fatalf("jwks_uri holds no keys")
	}
	var kids []string
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			t.Errorf("JWKS key %d (kid %q) is invalid or not public", i, k.KeyID)
		}
		if k.KeyID == "" {
			t.Errorf("JWKS key %d has no kid", i)
		} else if slices.Contains(kids, k.KeyID) {
			t.Errorf("JWKS kid %q is not unique", k.KeyID)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// checkErrorRedirect checks an authorisation error sent back to the client
// (OIDC Core §3.1.2.6, RFC 6749 §4.1.2.1): one of the allowed codes, state
// echoed, iss, no code, no unexpected parameters, and an error_description
// of the allowed characters only.
func checkErrorRedirect(t *testing.T, e *env, req url.Values, ar *authzResult, allowed ...string) {
	t.Helper()
	if ar.params == nil {
		t.Fatalf("want an error redirect to the client, got %v", ar.final)
	}
	if !strings.HasPrefix(ar.location.String(), req.Get("redirect_uri")) {
		t.Errorf("error redirect to %s, want the request's redirect_uri %s", ar.location, req.Get("redirect_uri"))
	}
	if code := ar.params.Get("error"); !slices.Contains(allowed, code) {
		t.Errorf("error = %q, want one of %v", code, allowed)
	}
	if got, want := ar.params.Get("state"), req.Get("state"); got != want {
		t.Errorf("error response state: got %d chars, want %d", len(got), len(want))
	}
	if iss := ar.params.Get("iss"); iss != e.issuer {
		t.Errorf("error response iss = %q, want %q", iss, e.issuer)
	}
	for k := range ar.params {
		if !slices.Contains([]string{"error", "error_description", "error_uri", "state", "iss"}, k) {
			t.Errorf("error response carries the unexpected parameter %q", k)
		}
	}
	checkErrorDescription(t, ar.params.Get("error_description"))
}

// checkErrorDescription: %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §4.1.2.1).
func checkErrorDescription(t *testing.T, d string) {
	t.Helper()
	for i := 0; i < len(d); i++ {
		b := d[i]
		if b < 0x20 || b > 0x7e || b == '"' || b == '\\' {
			t.Errorf("error_description contains the disallowed byte %#x: %q", b, d)
			return
		}
	}
}

// checkErrorPage: the OP must not redirect to the client ("error page"):
// the session API answers a type "error" message without a redirect.
func checkErrorPage(t *testing.T, ar *authzResult, wantCode string) {
	t.Helper()
	if ar.final["type"] != "error" {
		t.Fatalf("message type %v, want a non-redirectable error: %v", ar.final["type"], ar.final)
	}
	if _, ok := ar.final["parameters"]; ok {
		t.Errorf("a non-redirectable error carries redirect parameters: %v", ar.final)
	}
	if len(ar.prompts) > 0 {
		t.Errorf("the request was prompted (%v) before failing", ar.prompts)
	}
	if wantCode != "" && ar.final["error"] != wantCode {
		t.Errorf("error = %v, want %s", ar.final["error"], wantCode)
	}
	d, _ := ar.final["error_description"].(string)
	checkErrorDescription(t, d)
}

// checkLoginUIErrorPage: the browser-facing endpoint answers the same
// request with an error page and no redirect.
func checkLoginUIErrorPage(t *testing.T, e *env, q url.Values) {
	t.Helper()
	r := e.get(e.issuer+"/login?"+q.Encode(), "")
	if r.status < 400 || r.header.Get("Location") != "" {
		t.Errorf("GET /login: status %d Location %q, want an error page without a redirect", r.status, r.header.Get("Location"))
	}
}

// checkUserInfo: 200, JSON, the ID token's sub (OIDC Core §5.3.2).
func checkUserInfo(t *testing.T, r *response, id *idToken) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("userinfo: status %d: %s", r.status, r.raw)
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("userinfo Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	if r.body["sub"] != id.tok.Subject {
		t.Errorf("userinfo sub = %v, want the ID token's %q", r.body["sub"], id.tok.Subject)
	}
	return r.body
}

// scopeOf is the space-joined scope.
func scopeOf(v ...string) string { return oauth.Scope(v).String() }
