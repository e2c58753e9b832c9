package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/store"
)

// internalDetail stands for what an internal error may carry (a DSN, a
// file path, a SQL statement): it must reach the log and never the client.
const internalDetail = "postgres://keyward:hunter2@db.internal/keyward"

// serveError answers err through writeError, as every handler does, and
// returns the recorded answer.
func (e *env) serveError(err error, header map[string]string) *response {
	e.t.Helper()
	h := e.api.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.api.writeError(w, r, err) }))
	return e.do(h, request{path: "/probe", header: header})
}

// TestErrorMapping: every OAuth error code keeps its status and RFC 6749
// §5.2 body; store and plug-in sentinels and unknown errors become 404 or a
// bare 500 that names nothing internal.
func TestErrorMapping(t *testing.T) {
	type body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description,omitempty"`
		ErrorURI         string `json:"error_uri,omitempty"`
	}
	internal500 := body{Error: "server_error", ErrorDescription: "internal error"}
	unavailable503 := body{"temporarily_unavailable", "the service is temporarily unavailable; retry later", ""}
	for _, tc := range []struct {
		name       string
		err        error
		wantStatus int
		want       body
		// wantAuth is the WWW-Authenticate header; "" for none.
		wantAuth string
	}{
		{"invalid_request", oauth.InvalidRequest("bad"), 400, body{"invalid_request", "bad", ""}, ""},
		{"invalid_client", oauth.InvalidClient("who"), 401, body{"invalid_client", "who", ""}, `Basic realm="keyward"`},
		{"invalid_grant", oauth.InvalidGrant("used"), 400, body{"invalid_grant", "used", ""}, ""},
		{"unauthorized_client", oauth.UnauthorizedClient("no"), 400, body{"unauthorized_client", "no", ""}, ""},
		{"unsupported_grant_type", oauth.UnsupportedGrantType("x"), 400, body{"unsupported_grant_type", "x", ""}, ""},
		{"invalid_scope", oauth.InvalidScope("x"), 400, body{"invalid_scope", "x", ""}, ""},
		{"access_denied", oauth.AccessDenied("x"), 403, body{"access_denied", "x", ""}, ""},
		{"unsupported_response_type", oauth.UnsupportedResponseType("x"), 400, body{"unsupported_response_type", "x", ""}, ""},
		{"temporarily_unavailable", oauth.TemporarilyUnavailable("busy"), 503, body{"temporarily_unavailable", "busy", ""}, ""},
		{"invalid_token", oauth.InvalidToken("expired"), 401, body{"invalid_token", "expired", ""}, `Bearer realm="keyward"`},
		{"insufficient_scope", oauth.InsufficientScope("more"), 403, body{"insufficient_scope", "more", ""}, `Bearer realm="keyward"`},
		{"interaction_required", oauth.InteractionRequired("x"), 400, body{"interaction_required", "x", ""}, ""},
		{"login_required", oauth.LoginRequired("x"), 400, body{"login_required", "x", ""}, ""},
		{"account_selection_required", oauth.AccountSelectionRequired("x"), 400, body{"account_selection_required", "x", ""}, ""},
		{"consent_required", oauth.ConsentRequired("x"), 400, body{"consent_required", "x", ""}, ""},
		{"invalid_request_uri", oauth.InvalidRequestURI("x"), 400, body{"invalid_request_uri", "x", ""}, ""},
		{"invalid_request_object", oauth.InvalidRequestObject("x"), 400, body{"invalid_request_object", "x", ""}, ""},
		{"request_not_supported", oauth.RequestNotSupported("x"), 400, body{"request_not_supported", "x", ""}, ""},
		{"request_uri_not_supported", oauth.RequestURINotSupported("x"), 400, body{"request_uri_not_supported", "x", ""}, ""},
		{"invalid_redirect_uri", oauth.InvalidRedirectURI("x"), 400, body{"invalid_redirect_uri", "x", ""}, ""},
		{"invalid_client_metadata", oauth.InvalidClientMetadata("x"), 400, body{"invalid_client_metadata", "x", ""}, ""},
		{"registration_not_supported", &oauth.Error{Code: oauth.ErrCodeRegistrationNotSupported, Status: 400}, 400, body{Error: "registration_not_supported"}, ""},
		{"invalid_target", &oauth.Error{Code: oauth.ErrCodeInvalidTarget, Status: 400, Description: "x"}, 400, body{"invalid_target", "x", ""}, ""},
		{"error_uri kept", &oauth.Error{Code: "invalid_request", Status: 400, URI: "https://op.example.com/errors/1"}, 400,
			body{Error: "invalid_request", ErrorURI: "https://op.example.com/errors/1"}, ""},
		{"no status means 400", &oauth.Error{Code: "invalid_request"}, 400, body{Error: "invalid_request"}, ""},
		{"WithStatus is kept", oauth.InvalidRequest("slow down").WithStatus(429), 429, body{"invalid_request", "slow down", ""}, ""},
		{"wrapped OAuth error", fmt.Errorf("token: %w", oauth.InvalidGrant("used")), 400, body{"invalid_grant", "used", ""}, ""},
		{"cause stays in the logs", oauth.InvalidGrant("used").WithCause(errors.New(internalDetail)), 400, body{"invalid_grant", "used", ""}, ""},

		// server_error never describes itself, even when the core wrote a
		// description, and a not-found cause does not make it a 404.
		{"server_error", oauth.ServerError(internalDetail), 500, internal500, ""},
		{"server_error with a not-found cause", oauth.ServerError("lookup").WithCause(store.ErrNotFound), 500, internal500, ""},

		{"store.ErrNotFound", store.ErrNotFound, 404, body{"not_found", "no such resource", ""}, ""},
		{"wrapped store.ErrNotFound", fmt.Errorf("authorisation session expired: %w", store.ErrNotFound), 404, body{"not_found", "no such resource", ""}, ""},
		{"store.ErrExists", fmt.Errorf("create %s: %w", internalDetail, store.ErrExists), 500, internal500, ""},
		{"store.ErrConflict", fmt.Errorf("update %s: %w", internalDetail, store.ErrConflict), 500, internal500, ""},
		{"store.ErrConsumed", fmt.Errorf("consume %s: %w", internalDetail, store.ErrConsumed), 500, internal500, ""},
		{"users.ErrInvalidCredentials", fmt.Errorf("%s: %w", internalDetail, users.ErrInvalidCredentials), 500, internal500, ""},
		{"context canceled", fmt.Errorf("%s: %w", internalDetail, context.Canceled), 500, internal500, ""},
		{"body too large", errBodyTooLarge, 413, body{"invalid_request", "request body too large", ""}, ""},
		{"unknown error", errors.New(internalDetail), 500, internal500, ""},

		// A store or Redis that cannot be reached is an outage, not a
		// fault: 503 temporarily_unavailable with Retry-After (docs/api.md
		// §6), whether the core wrapped it in a server_error or not.
		{"store.ErrUnavailable", fmt.Errorf("%s: %w", internalDetail, store.ErrUnavailable), 503, unavailable503, ""},
		{"server_error caused by an outage", oauth.ServerError("internal error").WithCause(
			fmt.Errorf("redis: %w", store.ErrUnavailable)), 503, unavailable503, ""},
		{"connection refused", fmt.Errorf("%s: %w", internalDetail, syscall.ECONNREFUSED), 503, unavailable503, ""},
		{"backend deadline", fmt.Errorf("%s: %w", internalDetail, context.DeadlineExceeded), 503, unavailable503, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			r := e.serveError(tc.err, nil)
			if r.status != tc.wantStatus {
				t.Errorf("status %d, want %d", r.status, tc.wantStatus)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
				t.Errorf("Content-Type %q", ct)
			}
			var got body
			if err := jsonStrict(r.raw, &got); err != nil {
				t.Fatalf("body %q: %v", r.raw, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if ra := r.header.Get("Retry-After"); tc.wantStatus == 503 && ra == "" {
				t.Errorf("status %d with Retry-After %q", r.status, ra)
			}
			if tc.wantStatus == 503 && strings.Contains(e.logs.String(), "internal error") {
				t.Errorf("an outage is logged as an internal error:\n%s", e.logs.String())
			}
			if got := r.header.Get("WWW-Authenticate"); got != tc.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantAuth)
			}
			if strings.Contains(string(r.raw), "hunter2") || strings.Contains(r.header.Get("WWW-Authenticate"), "hunter2") {
				t.Errorf("the answer leaks the internal detail: %q", r.raw)
			}
			// An operator can still find out what went wrong, by request ID.
			if tc.wantStatus == 500 && !strings.Contains(e.logs.String(), r.header.Get("X-Request-Id")) {
				t.Errorf("the 500 was not logged with its request ID %q:\n%s", r.header.Get("X-Request-Id"), e.logs.String())
			}
			if tc.wantStatus == 500 && strings.Contains(tc.err.Error(), "hunter2") && !strings.Contains(e.logs.String(), "hunter2") {
				t.Errorf("the 500's cause is not in the logs:\n%s", e.logs.String())
			}
		})
	}
}

// TestClientGoneIsNotAnInternalError: a backend call cancelled because the
// client went away is logged as that, not as an internal error.
func TestClientGoneIsNotAnInternalError(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/token", nil).WithContext(ctx)
	e.api.writeError(rec, req, oauth.ServerError("internal error").WithCause(fmt.Errorf("get grant: %w", context.Canceled)))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	logs := e.logs.String()
	if strings.Contains(logs, "internal error") || !strings.Contains(logs, "request abandoned by the client") {
		t.Errorf("logs:\n%s", logs)
	}
	// The same error while the client still waits is a fault: 500.
	if r := e.serveError(fmt.Errorf("get grant: %w", context.Canceled), nil); r.status != http.StatusInternalServerError {
		t.Errorf("cancelled backend call with the client waiting: status %d, want 500", r.status)
	}
}

// TestBearerChallengeEchoesError: when the client sent credentials, the
// Bearer challenge names the error (RFC 6750 §3); without them it does not.
func TestBearerChallengeEchoesError(t *testing.T) {
	e := newEnv(t, envOptions{})
	err := oauth.InvalidToken("the access token expired")
	r := e.serveError(err, bearer("expired"))
	want := `Bearer realm="keyward", error="invalid_token", error_description="the access token expired"`
	if got := r.header.Get("WWW-Authenticate"); got != want {
		t.Errorf("with credentials: WWW-Authenticate = %q, want %q", got, want)
	}
	r = e.serveError(err, nil)
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="keyward"` {
		t.Errorf("without credentials: WWW-Authenticate = %q", got)
	}
}

// TestPanicIsA500: a handler that panics answers a bare 500 and the node
// keeps serving.
func TestPanicIsA500(t *testing.T) {
	e := newEnv(t, envOptions{})
	h := e.api.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(internalDetail) }))
	r := e.do(h, request{path: "/boom"})
	if r.status != 500 || string(r.raw) != `{"error":"server_error"}` {
		t.Errorf("got %d %q, want 500 {\"error\":\"server_error\"}", r.status, r.raw)
	}
	if !strings.Contains(e.logs.String(), "panic serving request") {
		t.Errorf("the panic was not logged:\n%s", e.logs.String())
	}
	if r := e.do(e.public, request{path: "/jwks.json"}); r.status != 200 {
		t.Errorf("after the panic, /jwks.json answered %d", r.status)
	}
}

// TestErrorsThroughRoutes checks the mapping on real refusals of the core
// and of the HTTP layer, end to end through the routes.
func TestErrorsThroughRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	big := strings.Repeat("a", maxBodyBytes+1)
	for _, tc := range []struct {
		name       string
		req        request
		wantStatus int
		wantError  string
	}{
		{"unknown authorisation session", request{path: "/authz-sessions/rest/v3/no-such-sid", header: bearer(apiToken)}, 404, "not_found"},
		{"authorisation session API without JSON", request{method: "POST", path: "/authz-sessions/rest/v3",
			header: map[string]string{"Authorization": "Bearer " + apiToken, "Content-Type": "text/plain"}, body: "{}"}, 415, "invalid_request"},
		{"authorisation session API with a non-object", request{method: "POST", path: "/authz-sessions/rest/v3",
			header: jsonHeaders(apiToken), body: `["query"]`}, 400, "invalid_request"},
		{"registration without JSON", request{method: "POST", path: "/clients",
			header: map[string]string{"Authorization": "Bearer " + apiToken, "Content-Type": "text/plain"}, body: "{}"}, 400, "invalid_client_metadata"},
		{"registration with bad metadata", request{method: "POST", path: "/clients", header: jsonHeaders(apiToken),
			body: `{"redirect_uris":["not a URI"]}`}, 400, "invalid_redirect_uri"},
		{"client list limit out of range", request{path: "/clients?limit=0", header: bearer(apiToken)}, 400, "invalid_request"},
		{"token without a form", request{method: "POST", path: "/token", header: jsonHeaders(""), body: "{}"}, 400, "invalid_request"},
		{"token with an unknown scheme", request{method: "POST", path: "/token",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Digest x"}, body: "grant_type=x"}, 401, "invalid_client"},
		{"token body too large", request{method: "POST", path: "/token", header: formHeader, body: "grant_type=" + big}, 413, "invalid_request"},
		{"authorisation session body too large", request{method: "POST", path: "/authz-sessions/rest/v3", header: jsonHeaders(apiToken),
			body: `{"query":"` + big + `"}`}, 413, "invalid_request"},
		{"userinfo token in header and body", request{method: "POST", path: "/userinfo",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer a"}, body: "access_token=b"}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(e.public, tc.req)
			if r.status != tc.wantStatus || r.body["error"] != tc.wantError {
				t.Errorf("got %d %q, want %d %s", r.status, r.raw, tc.wantStatus, tc.wantError)
			}
		})
	}
}

// TestPingNotReady: a failing readiness check is a 503 that does not say
// why; the reason goes to the log.
func TestPingNotReady(t *testing.T) {
	e := newEnv(t, envOptions{ready: func(context.Context) error { return errors.New(internalDetail) }})
	r := e.do(e.public, request{path: "/monitor/v1/ping", header: bearer(apiToken)})
	if r.status != http.StatusServiceUnavailable || string(r.raw) != "unavailable" {
		t.Errorf("got %d %q, want 503 unavailable", r.status, r.raw)
	}
	if !strings.Contains(e.logs.String(), "hunter2") {
		t.Errorf("the reason is not in the log:\n%s", e.logs.String())
	}
}
