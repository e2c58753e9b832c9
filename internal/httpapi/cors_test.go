package httpapi

import (
	"net/http"
	"testing"
)

const origin = "https://spa.example.net"

// corsHeaders are the headers withCORS sets for a cross-origin request.
var corsHeaders = map[string]string{
	"Access-Control-Allow-Origin":   "*",
	"Access-Control-Allow-Headers":  "Authorization, Content-Type, DPoP",
	"Access-Control-Expose-Headers": "DPoP-Nonce, WWW-Authenticate",
	"Access-Control-Allow-Methods":  "GET, POST, OPTIONS",
}

func withOrigin(h map[string]string) map[string]string {
	out := map[string]string{"Origin": origin}
	for k, v := range h {
		out[k] = v
	}
	return out
}

// TestCORS: the endpoints a browser's JavaScript client calls directly
// (discovery, JWKS, token, UserInfo) allow any origin without credentials;
// every other route, the integration APIs and registration above all, sends
// no CORS header, so browsers keep other origins' scripts out.
func TestCORS(t *testing.T) {
	e := newEnv(t, envOptions{})
	id, regToken := e.registerClient()
	cors := map[string]bool{
		"GET /.well-known/openid-configuration":       true,
		"GET /.well-known/oauth-authorization-server": true,
		"GET /jwks.json":    true,
		"POST /token":       true,
		"OPTIONS /token":    true,
		"GET /userinfo":     true,
		"POST /userinfo":    true,
		"OPTIONS /userinfo": true,
	}
	for name, rt := range routeTable(id, regToken) {
		if name == "DELETE /clients/{client_id}" {
			continue // the client must outlive the other rows
		}
		t.Run(name, func(t *testing.T) {
			req := rt.req
			req.header = withOrigin(rt.req.header)
			r := e.do(e.public, req)
			// The answer is the handler's, as without Origin.
			checkRoute(t, rt, r)
			for k, v := range corsHeaders {
				want := ""
				if cors[name] {
					want = v
				}
				if got := r.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := r.header.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("Access-Control-Allow-Credentials = %q: no endpoint takes cookies cross-origin", got)
			}
		})
	}
}

// TestCORSNeedsOrigin: a same-origin or non-browser request gets no CORS
// headers, even on the CORS endpoints.
func TestCORSNeedsOrigin(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks.json"} {
		r := e.do(e.public, request{path: path})
		for k := range corsHeaders {
			if got := r.header.Get(k); got != "" {
				t.Errorf("GET %s without Origin: %s = %q", path, k, got)
			}
		}
	}
}

// TestCORSPreflight: the token and UserInfo endpoints answer a preflight
// with 204, the CORS headers and nothing else — no handler runs, so no
// body, no cache directive of the endpoint and no OAuth error. Discovery
// and JWKS are simple GETs that need no preflight, and the routes without
// CORS must not pass one: all of them answer OPTIONS with 405.
func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, envOptions{})
	preflight := withOrigin(map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	})
	for _, path := range []string{"/token", "/userinfo"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(e.public, request{method: "OPTIONS", path: path, header: preflight})
			if r.status != http.StatusNoContent || len(r.raw) != 0 {
				t.Fatalf("got %d %q, want 204 and no body", r.status, r.raw)
			}
			for k, v := range corsHeaders {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := r.header.Get("Cache-Control"); got != "" {
				t.Errorf("Cache-Control = %q: the endpoint's handler ran", got)
			}
		})
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks.json", "/par", "/clients",
		"/clients/some-client", "/authz-sessions/rest/v3", "/monitor/v1/ping"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(e.public, request{method: "OPTIONS", path: path, header: preflight})
			if r.status != http.StatusMethodNotAllowed {
				t.Errorf("status %d, want 405", r.status)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin = %q on a route without CORS", got)
			}
		})
	}
}
