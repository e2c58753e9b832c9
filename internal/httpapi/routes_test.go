package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// registerClient registers a web client with the master token and returns
// its ID and registration access token.
func (e *env) registerClient() (id, regToken string) {
	e.t.Helper()
	r := e.do(e.public, request{method: "POST", path: "/clients", header: jsonHeaders(apiToken),
		body: `{"redirect_uris":["https://rp.example.com/cb"],"client_name":"Route test"}`})
	if r.status != http.StatusCreated {
		e.t.Fatalf("register: %d %s", r.status, r.raw)
	}
	id, _ = r.body["client_id"].(string)
	regToken, _ = r.body["registration_access_token"].(string)
	if id == "" || regToken == "" {
		e.t.Fatalf("register: no client_id or registration_access_token in %s", r.raw)
	}
	return id, regToken
}

// route is one row of the route table: a request that reaches the route's
// handler, and what proves the handler (not the mux) answered.
type route struct {
	req        request
	wantStatus int
	// wantError is the OAuth error code of the JSON body, when the handler
	// refuses the request.
	wantError string
	// check inspects the rest of a successful answer.
	check func(t *testing.T, r *response)
}

func wantJSONMember(key, want string) func(t *testing.T, r *response) {
	return func(t *testing.T, r *response) {
		t.Helper()
		if got, _ := r.body[key].(string); got != want {
			t.Errorf("%s = %q, want %q in %s", key, got, want, r.raw)
		}
	}
}

func wantJSONArray(t *testing.T, r *response) {
	t.Helper()
	if _, ok := r.json.([]any); !ok {
		t.Errorf("want a JSON array, got %q", r.raw)
	}
}

func wantHeader(key, want string) func(t *testing.T, r *response) {
	return func(t *testing.T, r *response) {
		t.Helper()
		if got := r.header.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

// routeTable lists every route Handlers serves, with a request that gets
// past the mux and the guards into the handler.
func routeTable(clientID, regToken string) map[string]route {
	authzQuery := url.Values{"client_id": {"nobody"}, "response_type": {"code"}, "redirect_uri": {"https://rp.example.com/cb"}}.Encode()
	return map[string]route{
		"GET /.well-known/openid-configuration": {
			req: request{path: "/.well-known/openid-configuration"}, wantStatus: 200,
			check: wantJSONMember("issuer", testIssuer)},
		"GET /.well-known/oauth-authorization-server": {
			req: request{path: "/.well-known/oauth-authorization-server"}, wantStatus: 200,
			check: wantJSONMember("issuer", testIssuer)},
		"GET /jwks.json": {
			req: request{path: "/jwks.json"}, wantStatus: 200,
			check: wantHeader("Content-Type", "application/jwk-set+json")},
		"POST /token": {
			req:        request{method: "POST", path: "/token", header: formHeader, body: "grant_type=authorization_code&code=x"},
			wantStatus: 401, wantError: "invalid_client"},
		"OPTIONS /token": {
			req: request{method: "OPTIONS", path: "/token"}, wantStatus: 204},
		"POST /token/introspect": {
			req:        request{method: "POST", path: "/token/introspect", header: formBearer(apiToken), body: "token=unknown"},
			wantStatus: 200, check: func(t *testing.T, r *response) {
				if string(r.raw) != `{"active":false}` {
					t.Errorf("body %q, want {\"active\":false}", r.raw)
				}
			}},
		"POST /token/revoke": {
			req:        request{method: "POST", path: "/token/revoke", header: formHeader, body: "token=x&client_id=nobody"},
			wantStatus: 401, wantError: "invalid_client"},
		"GET /userinfo": {
			req: request{path: "/userinfo", header: bearer("not-an-access-token")}, wantStatus: 401, wantError: "invalid_token"},
		"POST /userinfo": {
			req:        request{method: "POST", path: "/userinfo", header: formHeader, body: "access_token=not-an-access-token"},
			wantStatus: 401, wantError: "invalid_token"},
		"OPTIONS /userinfo": {
			req: request{method: "OPTIONS", path: "/userinfo"}, wantStatus: 204},
		"POST /par": {
			req:        request{method: "POST", path: "/par", header: formHeader, body: "client_id=nobody&response_type=code"},
			wantStatus: 401, wantError: "invalid_client"},
		"POST /clients": {
			req: request{method: "POST", path: "/clients", header: jsonHeaders(apiToken),
				body: `{"redirect_uris":["https://rp.example.com/cb2"]}`},
			wantStatus: 201, check: func(t *testing.T, r *response) {
				if r.body["client_id"] == nil || r.body["client_secret"] == nil {
					t.Errorf("no client credentials in %s", r.raw)
				}
			}},
		"GET /clients": {
			req: request{path: "/clients", header: bearer(apiToken)}, wantStatus: 200,
			check: func(t *testing.T, r *response) {
				list, _ := r.json.([]any)
				if len(list) == 0 {
					t.Errorf("want a non-empty JSON array of clients, got %q", r.raw)
				}
			}},
		"GET /clients/{client_id}": {
			req: request{path: "/clients/" + clientID, header: bearer(regToken)}, wantStatus: 200,
			check: wantJSONMember("client_id", clientID)},
		"PUT /clients/{client_id}": {
			req: request{method: "PUT", path: "/clients/" + clientID, header: jsonHeaders(apiToken),
				body: `{"client_id":"` + clientID + `","redirect_uris":["https://rp.example.com/cb"],"client_name":"Renamed"}`},
			wantStatus: 200, check: wantJSONMember("client_name", "Renamed")},
		"DELETE /clients/{client_id}": {
			req: request{method: "DELETE", path: "/clients/" + clientID, header: bearer(regToken)}, wantStatus: 204},
		"/login": {
			req: request{method: "POST", path: "/login"}, wantStatus: http.StatusTeapot,
			check: wantHeader("X-Login-UI", "/login")},
		"/login/": {
			req: request{path: "/login/consent"}, wantStatus: http.StatusTeapot,
			check: wantHeader("X-Login-UI", "/login/consent")},
		"/logout": {
			req: request{path: "/logout?client_id=x"}, wantStatus: http.StatusTeapot,
			check: wantHeader("X-Login-UI", "/logout")},
		"/logout/": {
			req: request{method: "POST", path: "/logout/confirm"}, wantStatus: http.StatusTeapot,
			check: wantHeader("X-Login-UI", "/logout/confirm")},
		"GET /{$}": {
			req: request{path: "/"}, wantStatus: 200, check: func(t *testing.T, r *response) {
				if !strings.Contains(string(r.raw), "issuer: "+testIssuer) {
					t.Errorf("root page does not name the issuer: %q", r.raw)
				}
			}},
		"GET /favicon.ico": {
			req: request{path: "/favicon.ico"}, wantStatus: 204},
		"POST /authz-sessions/rest/v3": {
			req: request{method: "POST", path: "/authz-sessions/rest/v3", header: jsonHeaders(apiToken),
				body: `{"query":"` + authzQuery + `"}`},
			wantStatus: 200, check: wantJSONMember("type", "error")},
		"POST /authz-sessions/rest/v3/{$}": {
			req: request{method: "POST", path: "/authz-sessions/rest/v3/", header: jsonHeaders(apiToken),
				body: `{"query":"` + authzQuery + `"}`},
			wantStatus: 200, check: wantJSONMember("type", "error")},
		"GET /authz-sessions/rest/v3/{sid}": {
			req: request{path: "/authz-sessions/rest/v3/unknown-sid", header: bearer(apiToken)}, wantStatus: 404, wantError: "not_found"},
		"PUT /authz-sessions/rest/v3/{sid}": {
			req: request{method: "PUT", path: "/authz-sessions/rest/v3/unknown-sid", header: jsonHeaders(apiToken),
				body: `{"sub":"alice"}`},
			wantStatus: 404, wantError: "not_found"},
		"DELETE /authz-sessions/rest/v3/{sid}": {
			req: request{method: "DELETE", path: "/authz-sessions/rest/v3/unknown-sid", header: bearer(apiToken)}, wantStatus: 404, wantError: "not_found"},
		"POST /direct-authz/rest/v2": {
			req: request{method: "POST", path: "/direct-authz/rest/v2", header: jsonHeaders(apiToken),
				body: `{"client_id":"` + clientID + `","sub":"alice","scope":["openid"]}`},
			wantStatus: 200, check: func(t *testing.T, r *response) {
				if r.body["access_token"] == nil || r.body["id_token"] == nil || r.body["token_type"] != "Bearer" {
					t.Errorf("want a token response with access and ID tokens, got %s", r.raw)
				}
			}},
		"GET /authz-store/rest/v3/authorizations": {
			req: request{path: "/authz-store/rest/v3/authorizations?subject=nobody", header: bearer(apiToken)}, wantStatus: 200,
			check: wantJSONArray},
		"POST /authz-store/rest/v3/authorizations": {
			req: request{method: "POST", path: "/authz-store/rest/v3/authorizations", header: jsonHeaders(apiToken),
				body: `{"sub":"alice","cid":"` + clientID + `","scp":["openid"]}`},
			wantStatus: 201, check: wantJSONMember("sub", "alice")},
		"PUT /authz-store/rest/v3/authorizations": {
			req: request{method: "PUT", path: "/authz-store/rest/v3/authorizations", header: jsonHeaders(apiToken),
				body: `{"sub":"alice","cid":"no-such-client","scp":["openid"]}`},
			wantStatus: 400, wantError: "invalid_request"},
		"DELETE /authz-store/rest/v3/authorizations": {
			req:        request{method: "DELETE", path: "/authz-store/rest/v3/authorizations?subject=nobody&client_id=none", header: bearer(apiToken)},
			wantStatus: 404, wantError: "not_found"},
		"GET /authz-store/rest/v3/subjects": {
			req: request{path: "/authz-store/rest/v3/subjects", header: bearer(apiToken)}, wantStatus: 200, check: wantJSONArray},
		"GET /authz-store/rest/v3/clients": {
			req: request{path: "/authz-store/rest/v3/clients", header: bearer(apiToken)}, wantStatus: 200, check: wantJSONArray},
		"POST /authz-store/rest/v3/revocation": {
			req:        request{method: "POST", path: "/authz-store/rest/v3/revocation", header: formBearer(apiToken), body: "subject=nobody"},
			wantStatus: 204},
		"POST /authz-store/rest/v3/inspection": {
			req:        request{method: "POST", path: "/authz-store/rest/v3/inspection", header: formBearer(apiToken), body: "access_token=bogus"},
			wantStatus: 404, wantError: "not_found"},
		"GET /session-store/rest/v2/sessions": {
			req: request{path: "/session-store/rest/v2/sessions?subject=nobody", header: bearer(apiToken)}, wantStatus: 200,
			check: func(t *testing.T, r *response) {
				if string(r.raw) != "{}" {
					t.Errorf("body %q, want {}", r.raw)
				}
			}},
		"PUT /session-store/rest/v2/sessions": {
			req:        request{method: "PUT", path: "/session-store/rest/v2/sessions", header: jsonHeaders(apiToken), body: `{}`},
			wantStatus: 400, wantError: "invalid_request"},
		"DELETE /session-store/rest/v2/sessions": {
			req: request{method: "DELETE", path: "/session-store/rest/v2/sessions?subject=nobody", header: bearer(apiToken)}, wantStatus: 200},
		"PUT /session-store/rest/v2/sessions/subject-auth-life": {
			req:        request{method: "PUT", path: "/session-store/rest/v2/sessions/subject-auth-life", header: jsonHeaders(apiToken), body: `5`},
			wantStatus: 400, wantError: "invalid_request"},
		"POST /session-store/rest/v2/purge": {
			req:        request{method: "POST", path: "/session-store/rest/v2/purge", header: formBearer(apiToken), body: "sessions=true"},
			wantStatus: 200, check: func(t *testing.T, r *response) {
				if string(r.raw) != `{"sessions":0}` {
					t.Errorf("body %q", r.raw)
				}
			}},
		"POST /logout-sessions/rest/v1": {
			req:        request{method: "POST", path: "/logout-sessions/rest/v1", header: jsonHeaders(apiToken), body: `{"query":"client_id=nobody"}`},
			wantStatus: 200, check: wantJSONMember("error", "invalid_request")},
		"POST /logout-sessions/rest/v1/{$}": {
			req:        request{method: "POST", path: "/logout-sessions/rest/v1/", header: jsonHeaders(apiToken), body: `{"query":""}`},
			wantStatus: 200, check: wantJSONMember("type", "end")},
		"PUT /logout-sessions/rest/v1/{sid}": {
			req:        request{method: "PUT", path: "/logout-sessions/rest/v1/unknown", header: jsonHeaders(apiToken), body: `{"op_logout":true}`},
			wantStatus: 404, wantError: "not_found"},
		"GET /monitor/v1/ping": {
			req: request{path: "/monitor/v1/ping", header: bearer(apiToken)}, wantStatus: 200,
			check: wantText("pong")},
		"GET /monitor/v1/healthcheck": {
			req: request{path: "/monitor/v1/healthcheck", header: bearer(apiToken)}, wantStatus: 200,
			check: wantJSONKey("durableStore")},
		"GET /monitor/v1/metrics": {
			req: request{path: "/monitor/v1/metrics", header: bearer(apiToken)}, wantStatus: 200,
			check: wantJSONKey("timers")},
		"GET /metrics": {
			req: request{path: "/metrics", header: bearer(apiToken)}, wantStatus: 200,
			check: wantTextContaining("keyward_http_requests_total")},
		"GET /healthz": {req: request{path: "/healthz"}, wantStatus: 200, check: wantText("ok\n")},
		"GET /readyz":  {req: request{path: "/readyz"}, wantStatus: 200, check: wantText("ok\n")},
	}
}

// isIntegration reports whether a row belongs to the integration listener.
func isIntegration(name string) bool {
	return strings.Contains(name, "/authz-sessions/") || strings.Contains(name, "/monitor/") ||
		strings.Contains(name, "/direct-authz/") || strings.Contains(name, "/authz-store/") ||
		strings.Contains(name, "/session-store/") || strings.Contains(name, "/logout-sessions/") ||
		name == "GET /metrics"
}

func wantText(want string) func(t *testing.T, r *response) {
	return func(t *testing.T, r *response) {
		t.Helper()
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") || string(r.raw) != want {
			t.Errorf("got %q (%s), want text/plain %q", r.raw, r.header.Get("Content-Type"), want)
		}
	}
}

func wantTextContaining(want string) func(t *testing.T, r *response) {
	return func(t *testing.T, r *response) {
		t.Helper()
		if !strings.Contains(string(r.raw), want) {
			t.Errorf("body does not contain %q: %.300q", want, r.raw)
		}
	}
}

func wantJSONKey(key string) func(t *testing.T, r *response) {
	return func(t *testing.T, r *response) {
		t.Helper()
		if _, ok := r.body[key]; !ok {
			t.Errorf("no member %q in %.300q", key, r.raw)
		}
	}
}

func checkRoute(t *testing.T, rt route, r *response) {
	t.Helper()
	if r.status != rt.wantStatus {
		t.Fatalf("status %d, want %d; body %q", r.status, rt.wantStatus, r.raw)
	}
	if r.jsonErr != nil {
		t.Errorf("JSON content type, but the body is not JSON: %v: %q", r.jsonErr, r.raw)
	}
	if rt.wantError != "" {
		if got, _ := r.body["error"].(string); got != rt.wantError {
			t.Errorf("error %q, want %q; body %q", got, rt.wantError, r.raw)
		}
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id: the route bypasses the middleware")
	}
	if rt.check != nil {
		rt.check(t, r)
	}
}

// TestRouteTable sends every route a request its handler answers, on the
// one handler of an unsplit node, and checks the answer came from that
// handler: a status and body the mux's own 404 or 405 could not give.
func TestRouteTable(t *testing.T) {
	e := newEnv(t, envOptions{})
	id, regToken := e.registerClient()
	table := routeTable(id, regToken)
	names := make([]string, 0, len(table))
	for name := range table {
		names = append(names, name)
	}
	slices.Sort(names)
	// DELETE last: the other client routes need the client.
	slices.SortStableFunc(names, func(a, b string) int {
		del := func(s string) bool { return strings.HasPrefix(s, "DELETE /clients/") }
		switch {
		case del(a) == del(b):
			return 0
		case del(a):
			return 1
		default:
			return -1
		}
	})
	for _, name := range names {
		t.Run(name, func(t *testing.T) { checkRoute(t, table[name], e.do(e.public, table[name].req)) })
	}
	if want := 50; len(table) != want {
		t.Errorf("the table has %d routes, want %d: a route was added or removed without a row here", len(table), want)
	}
}

// TestSplitHandlers: with an admin listener, the integration APIs answer
// only there and the public routes only on the public handler.
func TestSplitHandlers(t *testing.T) {
	e := newEnv(t, envOptions{split: true})
	id, regToken := e.registerClient()
	for name, rt := range routeTable(id, regToken) {
		if strings.HasPrefix(name, "DELETE /clients") {
			continue // would remove the client under the other rows
		}
		own, other := e.public, e.integration
		if isIntegration(name) {
			own, other = e.integration, e.public
		}
		t.Run(name, func(t *testing.T) {
			checkRoute(t, rt, e.do(own, rt.req))
			if r := e.do(other, rt.req); r.status != http.StatusNotFound {
				t.Errorf("the other listener answered %d, want 404; body %q", r.status, r.raw)
			}
		})
	}
}

// TestWrongMethod: a known path with a method it does not serve is 405 with
// an Allow header that lists exactly the methods it does (RFC 9110 §15.5.6).
// GET routes admit HEAD too.
func TestWrongMethod(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"POST", "/.well-known/openid-configuration", "GET, HEAD"},
		{"DELETE", "/.well-known/oauth-authorization-server", "GET, HEAD"},
		{"PUT", "/jwks.json", "GET, HEAD"},
		{"GET", "/token", "OPTIONS, POST"},
		{"PUT", "/userinfo", "GET, HEAD, OPTIONS, POST"},
		{"GET", "/par", "POST"},
		{"GET", "/token/introspect", "POST"},
		{"PUT", "/token/revoke", "POST"},
		{"PATCH", "/clients", "GET, HEAD, POST"},
		{"POST", "/clients/some-client", "DELETE, GET, HEAD, PUT"},
		{"GET", "/authz-sessions/rest/v3", "POST"},
		{"POST", "/authz-sessions/rest/v3/some-sid", "DELETE, GET, HEAD, PUT"},
		{"POST", "/monitor/v1/ping", "GET, HEAD"},
		{"GET", "/direct-authz/rest/v2", "POST"},
		{"PATCH", "/authz-store/rest/v3/authorizations", "DELETE, GET, HEAD, POST, PUT"},
		{"POST", "/authz-store/rest/v3/subjects", "GET, HEAD"},
		{"DELETE", "/authz-store/rest/v3/clients", "GET, HEAD"},
		{"GET", "/authz-store/rest/v3/revocation", "POST"},
		{"PUT", "/authz-store/rest/v3/inspection", "POST"},
		{"POST", "/favicon.ico", "GET, HEAD"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			// A valid token: the guard must not be what answers.
			r := e.do(e.public, request{method: tc.method, path: tc.path, header: bearer(apiToken)})
			if r.status != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405; body %q", r.status, r.raw)
			}
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestUnknownPath: paths no route serves are 404, whatever the method, and
// the integration APIs' prefixes do not match deeper or sibling paths.
func TestUnknownPath(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"POST", "/nope"},
		{"GET", "/.well-known/unknown"},
		{"GET", "/.well-known/openid-configuration/extra"},
		{"GET", "/jwks"},
		{"POST", "/token/"},
		{"GET", "/clients/a/b"},
		{"GET", "/authz-sessions/rest/v2/sid"},
		{"GET", "/authz-sessions/rest/v3/sid/extra"},
		{"GET", "/monitor/v1/"},
		{"GET", "/authz-store/rest/v3"},
		{"GET", "/authz-store/rest/v3/authorizations/alice"},
		{"GET", "/authz-store/rest/v2/authorizations"},
		{"GET", "/authz-store/rest/v3/auth-req-ids"},
		{"GET", "/monitor/v1/ping/x"},
		{"GET", "/index.html"},
		{"GET", "/loginx"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := e.do(e.public, request{method: tc.method, path: tc.path, header: bearer(apiToken)})
			if r.status != http.StatusNotFound {
				t.Fatalf("status %d, want 404; body %q", r.status, r.raw)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a 404 carries CORS headers")
			}
		})
	}
}

// TestIntegrationGuards: without a valid bearer token the integration APIs
// answer 401 invalid_token with a Bearer challenge and never reach the core.
func TestIntegrationGuards(t *testing.T) {
	e := newEnv(t, envOptions{})
	for name, rt := range routeTable("some-client", "some-token") {
		if !isIntegration(name) && !strings.Contains(name, "/clients") {
			continue
		}
		for _, auth := range []map[string]string{
			nil,
			bearer("wrong-token"),
			{"Authorization": "Basic " + apiToken},
			{"Authorization": "Bearer"},
		} {
			t.Run(name+" "+auth["Authorization"], func(t *testing.T) {
				req := rt.req
				req.header = map[string]string{"Content-Type": rt.req.header["Content-Type"]}
				for k, v := range auth {
					req.header[k] = v
				}
				r := e.do(e.public, req)
				if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
					t.Fatalf("got %d %q, want 401 invalid_token", r.status, r.raw)
				}
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="keyward"`) {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
				}
			})
		}
	}
}

// TestMonitorTokenInQuery: load balancers' health checks may only be able
// to give the monitoring token as ?access_token=; the master API token,
// which opens every other API, is refused there, since query strings end
// up in proxy and load-balancer logs.
func TestMonitorTokenInQuery(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"monitoring token in the query", "/monitor/v1/ping?access_token=" + monitorToken, nil, http.StatusOK},
		{"master token in the query", "/monitor/v1/ping?access_token=" + apiToken, nil, http.StatusUnauthorized},
		{"wrong token in the query", "/monitor/v1/ping?access_token=wrong", nil, http.StatusUnauthorized},
		{"master token in the header", "/monitor/v1/ping", bearer(apiToken), http.StatusOK},
		{"monitoring token in the header", "/monitor/v1/ping", bearer(monitorToken), http.StatusOK},
	} {
		if r := e.do(e.public, request{path: tc.path, header: tc.header}); r.status != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, r.status, r.raw, tc.want)
		}
	}
}
