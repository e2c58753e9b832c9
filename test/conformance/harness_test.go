package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

// env is one running Keyward node (demo users, dev mode, SQLite in a
// temporary directory) whose issuer is its loopback listener URL.
type env struct {
	t        *testing.T
	issuer   string
	apiToken string
	srv      *server.Server
	// clock is real time plus a settable offset. The server, the RP's ID
	// token verifier and the checks all read it, so a module that must
	// "wait" (max_age, 30 s code reuse, RP key rotation) advances it instead
	// of sleeping, while time still flows for everything else.
	clock *testclock.Clock
	// http never follows redirects, so a test sees every 3xx.
	http *http.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	c := testclock.Wall()
	n := testnode.Start(t, server.Options{Now: c.Now})
	return &env{t: t, issuer: n.Issuer, apiToken: n.Server.APIToken(), srv: n.Server, clock: c,
		http: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (e *env) ctx() context.Context { return oidc.ClientContext(e.t.Context(), e.http) }

// response is a raw HTTP answer with its JSON body decoded when it is an
// object.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r *response) str(k string) string { s, _ := r.body[k].(string); return s }

func (e *env) do(req *http.Request) *response {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	out := &response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			e.t.Errorf("%s %s: status %d, JSON content type but the body is not a JSON object: %q", req.Method, req.URL.Path, resp.StatusCode, raw)
		}
	}
	return out
}

func (e *env) get(u string, bearer string) *response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

func (e *env) postJSON(method, u, bearer string, body any) *response {
	e.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		e.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.do(req)
}

func (e *env) postForm(u string, form url.Values, prepare func(*http.Request)) *response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if prepare != nil {
		prepare(req)
	}
	return e.do(req)
}

// discovery fetches the provider metadata.
func (e *env) discovery() (*response, map[string]any) {
	e.t.Helper()
	r := e.get(e.issuer+"/.well-known/openid-configuration", "")
	if r.status != http.StatusOK || r.body == nil {
		e.t.Fatalf("discovery: status %d content type %q: %s", r.status, r.header.Get("Content-Type"), r.raw)
	}
	return r, r.body
}

// randToken returns n random bytes, base64url: state, nonce, verifiers.
func randToken(t *testing.T, n int) string {
	t.Helper()
	v, err := secret.Token(rand.Reader, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// freeLoopbackURL returns an http://127.0.0.1 URL nothing listens on: a
// redirect URI the OP accepts in dev mode and nobody follows.
func freeLoopbackURL(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String() + path
}

// client is a registered relying party.
type client struct {
	e           *env
	id, secret  string
	redirectURI string
	// authMethod is how the client authenticates at the token endpoint.
	authMethod string
	// key signs private_key_jwt assertions; nil for secret-based methods.
	key *jose.JSONWebKey
	// assertionAud overrides the client_assertion audience (default: the
	// token endpoint).
	assertionAud string
	// assertionLife overrides the client_assertion lifetime (default: a
	// minute).
	assertionLife time.Duration
	verifier      *oidc.IDTokenVerifier
}

// register posts RFC 7591 metadata with the master token.
func (e *env) register(md map[string]any) *response {
	e.t.Helper()
	return e.postJSON(http.MethodPost, e.issuer+"/clients", e.apiToken, md)
}

// newClient registers a confidential web client authenticating with
// method. For private_key_jwt it generates an RSA key and, unless extra
// sets jwks_uri, registers it inline as jwks.
func (e *env) newClient(method string, extra map[string]any) *client {
	e.t.Helper()
	c := &client{e: e, authMethod: method, redirectURI: freeLoopbackURL(e.t, "/callback")}
	md := map[string]any{
		"client_name":                "conformance RP",
		"redirect_uris":              []string{c.redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"scope":                      "openid profile email address phone offline_access",
		"token_endpoint_auth_method": method,
	}
	if method == "private_key_jwt" {
		c.key = newRSAKey(e.t)
		if _, ok := extra["jwks_uri"]; !ok {
			md["jwks"] = publicJWKS(c.key)
		}
	}
	for k, v := range extra {
		md[k] = v
	}
	if uris, ok := md["redirect_uris"].([]string); ok && len(uris) > 0 {
		c.redirectURI = uris[0]
	}
	r := e.register(md)
	if r.status != http.StatusCreated {
		e.t.Fatalf("register client: status %d: %s", r.status, r.raw)
	}
	c.id, c.secret = r.str("client_id"), r.str("client_secret")
	if c.id == "" {
		e.t.Fatalf("registration response without client_id: %s", r.raw)
	}
	provider, err := oidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		e.t.Fatalf("go-oidc discovery: %v", err)
	}
	c.verifier = provider.Verifier(&oidc.Config{ClientID: c.id, Now: e.clock.Now})
	return c
}

func newRSAKey(t *testing.T) *jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &jose.JSONWebKey{Key: k, KeyID: randToken(t, 8), Algorithm: "RS256", Use: "sig"}
}

func publicJWKS(keys ...*jose.JSONWebKey) jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// assertion is a private_key_jwt client assertion (OIDC Core §9) signed
// with key, valid for assertionLife (a minute) by the shared clock.
func (c *client) assertion(key *jose.JSONWebKey, aud string) string {
	t := c.e.t
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KeyID))
	if err != nil {
		t.Fatal(err)
	}
	now := c.e.clock.Now()
	life := c.assertionLife
	if life == 0 {
		life = time.Minute
	}
	raw, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: c.id, Subject: c.id, Audience: jwt.Audience{aud}, ID: randToken(t, 16),
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(life)),
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// token posts a token request authenticated with the client's method.
func (c *client) token(form url.Values) *response {
	c.e.t.Helper()
	form = cloneValues(form)
	var basic bool
	switch c.authMethod {
	case "client_secret_basic":
		basic = true
	case "client_secret_post":
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	case "private_key_jwt":
		aud := c.assertionAud
		if aud == "" {
			aud = c.e.issuer + "/token"
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", c.assertion(c.key, aud))
	default:
		c.e.t.Fatalf("unknown auth method %q", c.authMethod)
	}
	return c.e.postForm(c.e.issuer+"/token", form, func(req *http.Request) {
		if basic {
			// RFC 6749 §2.3.1: form-encode before Basic.
			req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
		}
	})
}

func (c *client) redeem(code string, extra url.Values) *response {
	c.e.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.redirectURI}}
	for k, v := range extra {
		form[k] = v
	}
	return c.token(form)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// authQuery is the module's default authorisation request: code flow,
// scope openid, fresh state and nonce.
func (c *client) authQuery() url.Values {
	return url.Values{
		"response_type": {"code"},
		"client_id":     {c.id},
		"redirect_uri":  {c.redirectURI},
		"scope":         {"openid"},
		"state":         {randToken(c.e.t, 16)},
		"nonce":         {randToken(c.e.t, 16)},
	}
}

// authzResult is how an authorisation request ended.
type authzResult struct {
	// prompts are the message types the UI had to handle before the end
	// ("auth", "consent"); empty means no user interaction.
	prompts []string
	// authReasons are the failing login checks of the auth prompt.
	authReasons []string
	// final is the last message: type "response" or "error".
	final map[string]any
	// location is the redirect target of a "response"; params its
	// parameters (query, fragment or form_post form).
	location *url.URL
	params   url.Values
	subSID   string
}

func (a *authzResult) prompted(typ string) bool {
	for _, p := range a.prompts {
		if p == typ {
			return true
		}
	}
	return false
}

// login is what the harness, playing the login UI, submits at an auth
// prompt.
type login struct {
	sub string
	acr string
	// idTokenRefresh lets refresh grants mint ID tokens (consent
	// id_token.allow_refresh), off by default.
	idTokenRefresh bool
}

var alice = login{sub: "alice", acr: "1"}

// authorize drives the request with raw query through the authorisation
// session API as a login UI would: start (with the subject session cookie
// subSID), authenticate as who at an auth prompt, consent to everything
// requested (long-lived, with a refresh token) at a consent prompt.
func (e *env) authorize(rawQuery, subSID string, who login) *authzResult {
	e.t.Helper()
	start := map[string]any{"query": rawQuery}
	if subSID != "" {
		start["sub_sid"] = subSID
	}
	api := e.issuer + "/authz-sessions/rest/v3"
	r := e.postJSON(http.MethodPost, api, e.apiToken, start)
	res := &authzResult{subSID: subSID}
	for range 3 {
		if r.status != http.StatusOK || r.body == nil {
			e.t.Fatalf("authorisation session API: status %d: %s", r.status, r.raw)
		}
		sid := r.str("sid")
		switch typ := r.str("type"); typ {
		case "auth":
			res.prompts = append(res.prompts, typ)
			for _, v := range asSlice(r.body["reasons"]) {
				res.authReasons = append(res.authReasons, v.(string))
			}
			sa := map[string]any{"sub": who.sub, "amr": []string{"pwd"}}
			if who.acr != "" {
				sa["acr"] = who.acr
			}
			r = e.postJSON(http.MethodPut, api+"/"+sid, e.apiToken, sa)
		case "consent":
			res.prompts = append(res.prompts, typ)
			consent := map[string]any{
				"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": true,
				"refresh_token": map[string]any{"issue": true},
			}
			if who.idTokenRefresh {
				consent["id_token"] = map[string]any{"allow_refresh": true}
			}
			r = e.postJSON(http.MethodPut, api+"/"+sid, e.apiToken, consent)
		case "response", "error":
			res.final = r.body
			if s, _ := r.body["sub_sid"].(string); s != "" {
				res.subSID = s
			}
			if typ == "response" {
				res.location, res.params = responseParams(e.t, r.body)
			}
			return res
		default:
			e.t.Fatalf("unknown message type %q: %s", typ, r.raw)
		}
	}
	e.t.Fatalf("authorisation did not finish after three steps: %s", r.raw)
	return nil
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// responseParams parses the redirect of a type "response" message.
func responseParams(t *testing.T, msg map[string]any) (*url.URL, url.Values) {
	t.Helper()
	p, _ := msg["parameters"].(map[string]any)
	uri, _ := p["uri"].(string)
	u, err := url.Parse(uri)
	if err != nil || uri == "" {
		t.Fatalf("response message without a valid uri: %v", msg)
	}
	if form, ok := p["form"].(map[string]any); ok {
		v := url.Values{}
		for k, val := range form {
			s, _ := val.(string)
			v.Set(k, s)
		}
		return u, v
	}
	if u.Fragment != "" {
		v, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatalf("fragment %q: %v", u.Fragment, err)
		}
		return u, v
	}
	return u, u.Query()
}

// flow is one completed code flow: the authorisation, the token response
// and the checked ID token.
type flow struct {
	req    url.Values
	authz  *authzResult
	tok    *response
	id     *idToken
	code   string
	client *client
}

// codeFlow authorises q for c (with session subSID), redeems the code and
// runs checkStandardFlow. extra goes to the token request (code_verifier).
func (c *client) codeFlow(q url.Values, subSID string, who login, extra url.Values) *flow {
	t := c.e.t
	t.Helper()
	ar := c.e.authorize(q.Encode(), subSID, who)
	if ar.params == nil || ar.params.Get("code") == "" {
		t.Fatalf("authorisation did not return a code: %v", ar.final)
	}
	tok := c.redeem(ar.params.Get("code"), extra)
	f := &flow{req: q, authz: ar, tok: tok, code: ar.params.Get("code"), client: c}
	f.id = checkStandardFlow(t, c, q, ar, tok)
	return f
}

// userinfo calls the UserInfo endpoint with a Bearer header.
func (e *env) userinfo(method, accessToken string) *response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return e.do(req)
}
