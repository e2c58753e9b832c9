package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

// env is one running Keyward node for a test.
type env struct {
	t        *testing.T
	issuer   string
	apiToken string
	srv      *server.Server
	cfg      config.Config
	http     *http.Client
}

type envOption func(*config.Config)

// newEnv starts a node with demo users on a loopback listener. The issuer
// is the listener's URL, so discovery and every endpoint are real.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvFull(t, server.Options{}, opts...)
}

func newEnvFull(t *testing.T, sopts server.Options, opts ...envOption) *env {
	t.Helper()
	n := testnode.Start(t, sopts, func(cfg *config.Config) {
		for _, o := range opts {
			o(cfg)
		}
	})
	return &env{t: t, issuer: n.Issuer, apiToken: n.Server.APIToken(), srv: n.Server, cfg: n.Config,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// rp is a relying party registered with the node.
type rp struct {
	e            *env
	clientID     string
	clientSecret string
	redirectURI  string
	conf         *oauth2.Config
	provider     *oidc.Provider
	verifier     *oidc.IDTokenVerifier
}

// registerClient registers a client over RFC 7591 with the master token and
// returns the registration response.
func (e *env) registerClient(md map[string]any) (int, map[string]any) {
	e.t.Helper()
	body, _ := json.Marshal(md)
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/clients", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	req.Header.Set("Content-Type", "application/json")
	return e.doJSON(req)
}

func (e *env) doJSON(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		e.t.Fatalf("%s %s: status %d, body is not a JSON object: %q", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// doStatus sends req and returns the status and the body, whatever its
// type (the monitoring API answers text/plain).
func (e *env) doStatus(req *http.Request) (int, string) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// newRP registers a confidential web client whose redirect URI is a
// loopback URL (admitted in dev mode) and sets up go-oidc and x/oauth2.
func (e *env) newRP(extra map[string]any) *rp {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ln.Close()
	redirect := "http://" + ln.Addr().String() + "/callback"
	md := map[string]any{
		"client_name":   "e2e RP",
		"redirect_uris": []string{redirect},
		"grant_types":   []string{"authorization_code", "refresh_token"},
		"scope":         "openid profile email address phone offline_access",
	}
	for k, v := range extra {
		md[k] = v
	}
	status, reg := e.registerClient(md)
	if status != http.StatusCreated {
		e.t.Fatalf("register client: status %d: %v", status, reg)
	}
	ctx := oidc.ClientContext(e.t.Context(), e.http)
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("go-oidc discovery: %v", err)
	}
	r := &rp{e: e, clientID: reg["client_id"].(string), redirectURI: redirect, provider: provider}
	r.clientSecret, _ = reg["client_secret"].(string)
	r.conf = &oauth2.Config{
		ClientID: r.clientID, ClientSecret: r.clientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}
	r.verifier = provider.Verifier(&oidc.Config{ClientID: r.clientID})
	return r
}

func (r *rp) ctx() context.Context { return oidc.ClientContext(r.e.t.Context(), r.e.http) }

// authzSession calls the authorisation session API with the API token.
func (e *env) authzSession(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.issuer+"/authz-sessions/rest/v3"+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.doJSON(req)
}

// queryOf returns the query string of an authorisation URL.
func queryOf(t *testing.T, authURL string) string {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.RawQuery
}

// redirectParams parses the parameters of a final response's redirect.
func redirectParams(t *testing.T, msg map[string]any) url.Values {
	t.Helper()
	if msg["type"] != "response" {
		t.Fatalf("message type = %v, want response: %v", msg["type"], msg)
	}
	params := msg["parameters"].(map[string]any)
	u, err := url.Parse(params["uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if form, ok := params["form"].(map[string]any); ok {
		v := url.Values{}
		for k, val := range form {
			v.Set(k, val.(string))
		}
		return v
	}
	if u.Fragment != "" {
		v, _ := url.ParseQuery(u.Fragment)
		return v
	}
	return u.Query()
}

// postForm posts a form to the node.
func (e *env) postForm(path string, form url.Values, basicUser, basicPass string) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicPass))
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, resp.Header
}
