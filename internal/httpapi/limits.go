package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/admission"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/oauth"
)

// Limits are the throttles and overload guards of the HTTP layer
// (docs/api.md §18). The zero value limits nothing but body sizes.
type Limits struct {
	// ClientAddr resolves the client address behind trusted proxies; nil
	// takes the TCP peer.
	ClientAddr *clientaddr.Resolver

	Token, PAR, Introspect, Revoke, Registration RateLimit
	// APIAuthFailures counts failed bearer authentications at the
	// integration APIs, per address.
	APIAuthFailures *ratelimit.Keyed

	// MaxBodyBytes caps form and JSON bodies; 0: 50 000. Registration
	// bodies may be five times larger.
	MaxBodyBytes int64

	// Admission holds a gate per route class; a class without a gate is
	// not bounded.
	Admission map[RouteClass]*admission.Gate
}

// RateLimit are an endpoint's buckets; nil buckets allow all.
type RateLimit struct {
	PerClient, PerAddress *ratelimit.Keyed
}

// RouteClass groups routes that share an admission budget.
type RouteClass string

// The route classes (docs/api.md §18).
const (
	ClassToken   RouteClass = "token"
	ClassUI      RouteClass = "ui"
	ClassAPI     RouteClass = "api"
	ClassMonitor RouteClass = "monitor"
)

// registrationBodyFactor is how much larger a registration body may be
// than other bodies: client metadata may carry a JWK set.
const registrationBodyFactor = 5

// classOf sorts a request path into its route class. It looks at the path
// before the mux does, so that a request refused here costs no routing,
// parsing or store work.
func classOf(path string) RouteClass {
	switch {
	case path == "/healthz", path == "/readyz", path == "/metrics", strings.HasPrefix(path, "/monitor/"),
		strings.HasPrefix(path, "/debug/pprof/"):
		return ClassMonitor
	case path == "/login", strings.HasPrefix(path, "/login/"), strings.HasPrefix(path, "/logout"),
		strings.HasPrefix(path, "/authz-sessions/"):
		return ClassUI
	case strings.HasPrefix(path, "/direct-authz/"), strings.HasPrefix(path, "/authz-store/"),
		strings.HasPrefix(path, "/session-store/"):
		return ClassAPI
	}
	return ClassToken
}

type bodyLimitKey struct{}

// bodyLimit is the body cap of a request: the configured one, scaled for
// registration, or def without configuration.
func bodyLimit(r *http.Request, def int64) int64 {
	limit, ok := r.Context().Value(bodyLimitKey{}).(int64)
	if !ok || limit <= 0 {
		return def
	}
	if def == maxRegistrationBodyBytes {
		return limit * registrationBodyFactor
	}
	return limit
}

// InProcessRemoteAddr is the RemoteAddr of the requests the built-in login
// UI and demo client make to the node's own APIs without a socket.
const InProcessRemoteAddr = "in-process"

// inProcess reports a request of the built-in login UI or demo client to
// the node's own APIs: it was admitted and counted as the browser request
// it serves, and is not limited again (a second admission slot per sign-in
// could deadlock the class). It is recognised by its RemoteAddr, which no
// network connection has, not by a missing address: a request over a Unix
// socket is limited like any other.
func inProcess(r *http.Request) bool { return r.RemoteAddr == InProcessRemoteAddr }

// withBodyLimit puts the configured body cap in the request's context,
// for readBody and parseForm. It runs outside the metrics middleware,
// which must see the very request the mux is given.
func (a *API) withBodyLimit(next http.Handler) http.Handler {
	limit := a.Limits.MaxBodyBytes
	if limit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyLimitKey{}, limit)))
	})
}

// withLimits applies admission control and the per-endpoint rate limits,
// and sets the headers every response carries. It passes the request on
// unchanged (see withMetrics).
func (a *API) withLimits(next http.Handler) http.Handler {
	l := a.Limits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		if inProcess(r) {
			next.ServeHTTP(w, r)
			return
		}
		w = &retryAfterWriter{ResponseWriter: w}
		lim, endpoint := a.Limits.endpointLimit(r)
		if a.operatorRegistration(r, endpoint) {
			lim = RateLimit{}
		}
		if ok, wait := lim.PerAddress.Allow(clientaddr.Key(clientaddr.From(r.Context()))); !ok {
			a.writeRateLimited(w, r, endpoint, "address", wait)
			return
		}
		// The body is read before a slot is taken: admission bounds the
		// work in progress, and a client sending its body slowly must not
		// hold a slot while it does (http.read_timeout bounds the wait).
		if err := preReadBody(w, r); err != nil {
			a.writeError(w, r, err)
			return
		}
		if !a.allowClient(w, r, lim, endpoint) {
			return
		}
		if gate := l.Admission[classOf(r.URL.Path)]; gate != nil {
			release, err := gate.Acquire(r.Context())
			if err != nil {
				noteError(r, oauth.ErrCodeTemporarilyUnavailable)
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: oauth.ErrCodeTemporarilyUnavailable,
					ErrorDescription: "the server is overloaded; retry later"})
				return
			}
			defer release()
		}
		if l.APIAuthFailures != nil && integrationAPI(r.URL.Path) {
			a.serveCountingAuthFailures(w, r, next)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// endpointLimit picks the rate limit of a request by method and path, and
// the endpoint's name for the logs.
func (l *Limits) endpointLimit(r *http.Request) (RateLimit, string) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodPost && p == "/token":
		return l.Token, "token"
	case r.Method == http.MethodPost && p == "/par":
		return l.PAR, "par"
	case r.Method == http.MethodPost && p == "/token/introspect":
		return l.Introspect, "introspect"
	case r.Method == http.MethodPost && p == "/token/revoke":
		return l.Revoke, "revoke"
	case r.Method != http.MethodOptions && (p == "/clients" || strings.HasPrefix(p, "/clients/")):
		return l.Registration, "registration"
	}
	return RateLimit{}, ""
}

// operatorRegistration reports a registration call with the registration
// master token: the operator provisioning clients, not a stranger, so not
// counted.
func (a *API) operatorRegistration(r *http.Request, endpoint string) bool {
	if endpoint != "registration" {
		return false
	}
	token, ok := bearerToken(r)
	return ok && a.RegistrationTokens.Allows(token)
}

// allowClient applies the endpoint's per-client bucket, answering 429 when
// it is empty.
func (a *API) allowClient(w http.ResponseWriter, r *http.Request, lim RateLimit, endpoint string) bool {
	if lim.PerClient == nil {
		return true
	}
	client, err := claimedClient(w, r, endpoint)
	if err != nil {
		a.writeError(w, r, err)
		return false
	}
	if client == "" {
		return true
	}
	if ok, wait := lim.PerClient.Allow(client); !ok {
		a.writeRateLimited(w, r, endpoint, "client", wait)
		return false
	}
	return true
}

// preReadBody reads a request body, up to the body cap of its path, into
// memory. Too large is errBodyTooLarge (413); a body that ends early or
// trickles past http.read_timeout is invalid_request.
func preReadBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	limit := bodyLimit(r, maxBodyBytes)
	if r.URL.Path == "/clients" || strings.HasPrefix(r.URL.Path, "/clients/") {
		limit = bodyLimit(r, maxRegistrationBodyBytes)
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// claimedClient is the client a request names itself as, before any
// authentication: the HTTP Basic user, the client_id parameter, or the
// subject of a client assertion; for registration the {client_id} of the
// path. The per-client bucket is a budget, not an authorisation: a caller
// that names another client spends that client's budget only as far as
// the per-address bucket lets it.
func claimedClient(w http.ResponseWriter, r *http.Request, endpoint string) (string, error) {
	if endpoint == "registration" {
		id, _ := strings.CutPrefix(r.URL.Path, "/clients/")
		if id == r.URL.Path {
			return "", nil
		}
		return id, nil
	}
	if user, _, ok := r.BasicAuth(); ok {
		if id, err := url.QueryUnescape(user); err == nil && id != "" {
			return id, nil
		}
		return user, nil
	}
	// The form is parsed here with the body cap, once; the handler's own
	// parseForm finds it parsed. A body the handler would refuse is
	// refused here the same way.
	if requireContentType(r, "application/x-www-form-urlencoded") != nil {
		return "", nil
	}
	if err := parseForm(w, r); err != nil {
		return "", err
	}
	if id := r.PostForm.Get("client_id"); id != "" {
		return id, nil
	}
	return assertionSubject(r.PostForm.Get("client_assertion")), nil
}

// assertionSubject reads the sub of a JWT without verifying it (RFC 7523
// §3: sub is the client_id); "" when it cannot.
func assertionSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 8192 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}

// writeRateLimited answers 429 (RFC 6585 §4) with Retry-After and an OAuth
// error body; temporarily_unavailable is the code RFC 6749 has for "try
// again later".
func (a *API) writeRateLimited(w http.ResponseWriter, r *http.Request, endpoint, scope string, wait time.Duration) {
	secs := ratelimit.RetryAfterSeconds(wait)
	a.audit(r.Context(), "rate_limited", "endpoint", endpoint, "scope", scope,
		"client_addr", clientaddr.From(r.Context()).String())
	noteError(r, oauth.ErrCodeTemporarilyUnavailable)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: oauth.ErrCodeTemporarilyUnavailable,
		ErrorDescription: fmt.Sprintf("too many requests; retry after %d s", secs)})
}

// integrationAPI reports the paths of the integration web APIs, whose
// callers authenticate with bearer API tokens (docs/api.md §1).
func integrationAPI(path string) bool {
	for _, p := range []string{"/authz-sessions/", "/logout-sessions/", "/direct-authz/", "/authz-store/",
		"/session-store/", "/monitor/", "/clients"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return path == "/metrics"
}

// serveCountingAuthFailures serves an integration API request and spends a
// token of the address's bucket when it is answered 401 (every API guard
// answers a missing or wrong token so). An address whose bucket is empty
// is refused before its token is checked, right or wrong: a prober must
// not learn when it has guessed one.
func (a *API) serveCountingAuthFailures(w http.ResponseWriter, r *http.Request, next http.Handler) {
	addr := clientaddr.Key(clientaddr.From(r.Context()))
	if wait := a.Limits.APIAuthFailures.Wait(addr); wait > 0 {
		a.writeRateLimited(w, r, "api_auth_failures", "address", wait)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(rec, r)
	if rec.status == http.StatusUnauthorized {
		a.Limits.APIAuthFailures.Allow(addr)
	}
}

// retryAfterWriter adds Retry-After to a 503 or 429 that has none, so
// that every "try later" answer says when (RFC 9110 §10.2.3): a cap that
// is full, a store that is down.
type retryAfterWriter struct {
	http.ResponseWriter
	wrote bool
}

func (rw *retryAfterWriter) WriteHeader(code int) {
	if !rw.wrote {
		rw.wrote = true
		if (code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests) && rw.Header().Get("Retry-After") == "" {
			rw.Header().Set("Retry-After", "1")
		}
	}
	rw.ResponseWriter.WriteHeader(code)
}

func (rw *retryAfterWriter) Write(b []byte) (int, error) {
	if !rw.wrote {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *retryAfterWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }
