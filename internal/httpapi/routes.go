package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/keyward/keyward/internal/core/authz"
	"github.com/keyward/keyward/internal/core/authzstore"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/logout"
	"github.com/keyward/keyward/internal/core/sessionstore"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/internal/mtls"
)

// KeySet is what the HTTP layer needs of the signing keys.
type KeySet interface {
	JWKS() []byte
}

// Deps are the services the HTTP layer fronts.
type Deps struct {
	Authz   *authz.Service
	Tokens  *token.Service
	Clients *clientreg.Service
	Keys    KeySet
	// Metadata is the discovery document; the server builds it from what is
	// configured and implemented.
	Metadata *ProviderMetadata
	// ClientCerts finds the TLS client certificate of a request (mutual
	// TLS, RFC 8705); nil reads only Keyward's own TLS connection.
	ClientCerts *mtls.Extractor
	// AuthzSessionTokens guard the authorisation session API;
	// RegistrationTokens are the master tokens of the registration endpoint.
	AuthzSessionTokens TokenSet
	RegistrationTokens TokenSet
	// DirectAuthzTokens guard the direct authorisation API.
	DirectAuthzTokens TokenSet
	// MonitorTokens guard /monitor/v1 in the Authorization header.
	// MonitorQueryTokens may also be given as ?access_token= for
	// load-balancer health checks, as with Connect2id; query strings end up
	// in proxy logs, so this set must hold only tokens that open nothing
	// but the monitoring API (never the master API token).
	MonitorTokens      TokenSet
	MonitorQueryTokens TokenSet
	// IntrospectionTokens let a resource server call /token/introspect
	// with a bearer token instead of client authentication.
	IntrospectionTokens TokenSet
	// AuthzStore is the authorisation store API, guarded by
	// AuthzStoreTokens; nil leaves the API out.
	AuthzStore       *authzstore.Service
	AuthzStoreTokens TokenSet
	// SessionStore is the subject session store API, guarded by
	// SessionStoreTokens; nil leaves the API out.
	SessionStore       *sessionstore.Service
	SessionStoreTokens TokenSet
	// Logout is the logout session API, guarded by LogoutTokens; nil
	// leaves the API out.
	Logout           *logout.Service
	LogoutTokens     TokenSet
	OpenRegistration bool
	// LoginUI is the reference login UI mounted at /login, or nil.
	LoginUI http.Handler
	// LogoutUI is the reference logout page mounted at /logout (the
	// end_session_endpoint), or nil.
	LogoutUI http.Handler
	// Ready reports whether the node can serve (stores reachable).
	Ready func(ctx context.Context) error

	// Metrics records the requests and serves /monitor/v1/metrics and
	// /metrics; nil leaves both out. PrometheusOpen serves /metrics
	// without the monitoring token (monitor.prometheus_open).
	Metrics        *metrics.Registry
	PrometheusOpen bool
	// Pprof serves Go's profiles under /debug/pprof/ behind the
	// monitoring token (monitor.pprof); off, the routes do not exist.
	Pprof bool
	// HealthChecks are the checks of /monitor/v1/healthcheck.
	HealthChecks []HealthCheck

	// Limits are the throttles, body cap and admission control
	// (internal/httpapi/limits.go).
	Limits Limits

	Log *slog.Logger
}

// API holds the HTTP handlers.
type API struct {
	Deps
	log       *slog.Logger
	discovery []byte
}

// New builds the HTTP layer.
func New(d Deps) (*API, error) {
	if d.Authz == nil || d.Tokens == nil || d.Clients == nil || d.Keys == nil || d.Metadata == nil {
		return nil, fmt.Errorf("httpapi: missing dependency")
	}
	doc, err := d.Metadata.marshal()
	if err != nil {
		return nil, fmt.Errorf("httpapi: discovery document: %w", err)
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, ok := log.Handler().(requestIDHandler); !ok {
		log = slog.New(RequestIDHandler(log.Handler()))
	}
	return &API{Deps: d, log: log, discovery: doc}, nil
}

// Handlers returns the public handler and the integration handler. When
// split is false both are one handler serving every route; otherwise the
// integration web APIs are only on the second, for an internal listener.
func (a *API) Handlers(split bool) (public, integration http.Handler) {
	pub := http.NewServeMux()
	a.publicRoutes(pub)
	if !split {
		a.integrationRoutes(pub)
		h := a.wrap(pub)
		return h, h
	}
	adm := http.NewServeMux()
	a.integrationRoutes(adm)
	return a.wrap(pub), a.wrap(adm)
}

func (a *API) wrap(h http.Handler) http.Handler {
	if mux, ok := h.(*http.ServeMux); ok {
		h = jsonMuxErrors(mux)
	}
	h = a.withMetrics(a.withLimits(recordRoute(h)))
	return withRequestID(a.Limits.ClientAddr.Handler(a.withBodyLimit(withAccessLog(a.log, h))))
}

// publicRoutes lists every endpoint clients and browsers reach.
func (a *API) publicRoutes(mux *http.ServeMux) {
	mux.Handle("GET /.well-known/openid-configuration", withCORS(http.HandlerFunc(a.serveDiscovery)))
	mux.Handle("GET /.well-known/oauth-authorization-server", withCORS(http.HandlerFunc(a.serveDiscovery)))
	mux.Handle("GET /jwks.json", withCORS(http.HandlerFunc(a.serveJWKS)))
	mux.Handle("POST /token", withCORS(http.HandlerFunc(a.serveToken)))
	mux.Handle("OPTIONS /token", withCORS(http.NotFoundHandler()))
	mux.HandleFunc("POST /token/introspect", a.serveIntrospect)
	mux.HandleFunc("POST /token/revoke", a.serveRevoke)
	mux.Handle("GET /userinfo", withCORS(http.HandlerFunc(a.serveUserInfo)))
	mux.Handle("POST /userinfo", withCORS(http.HandlerFunc(a.serveUserInfo)))
	mux.Handle("OPTIONS /userinfo", withCORS(http.NotFoundHandler()))
	mux.HandleFunc("POST /par", a.servePAR)
	mux.HandleFunc("POST /clients", a.serveRegister)
	mux.HandleFunc("GET /clients", a.serveListClients)
	mux.HandleFunc("GET /clients/{client_id}", a.serveReadClient)
	mux.HandleFunc("PUT /clients/{client_id}", a.serveUpdateClient)
	mux.HandleFunc("DELETE /clients/{client_id}", a.serveDeleteClient)
	if a.LoginUI != nil {
		mux.Handle("/login", a.LoginUI)
		mux.Handle("/login/", a.LoginUI)
	}
	if a.LogoutUI != nil {
		mux.Handle("/logout", a.LogoutUI)
		mux.Handle("/logout/", a.LogoutUI)
	}
	a.probeRoutes(mux)
	mux.HandleFunc("GET /{$}", a.serveRoot)
	// Browsers ask for it on every page; an empty answer keeps their
	// consoles and our logs free of 404s.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	})
}

// integrationRoutes lists the integration web APIs (docs/api.md §1).
func (a *API) integrationRoutes(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.Handler {
		return a.requireToken(a.AuthzSessionTokens, a.refuseIssuerHeaders(h))
	}
	mux.Handle("POST /authz-sessions/rest/v3", guard(a.serveStartAuthz))
	mux.Handle("POST /authz-sessions/rest/v3/{$}", guard(a.serveStartAuthz))
	mux.Handle("GET /authz-sessions/rest/v3/{sid}", guard(a.serveGetAuthz))
	mux.Handle("PUT /authz-sessions/rest/v3/{sid}", guard(a.serveSubmitAuthz))
	mux.Handle("DELETE /authz-sessions/rest/v3/{sid}", guard(a.serveCancelAuthz))
	mux.Handle("GET /authz-sessions/rest/v3/{sid}/data", guard(a.serveGetAuthzData))
	mux.Handle("PUT /authz-sessions/rest/v3/{sid}/data", guard(a.servePutAuthzData))
	mux.Handle("POST /direct-authz/rest/v2", a.requireToken(a.DirectAuthzTokens, http.HandlerFunc(a.serveDirectAuthz)))
	mux.Handle("GET /monitor/v1/ping", a.requireMonitorToken(http.HandlerFunc(a.servePing)))
	a.monitorRoutes(mux)
	a.authzStoreRoutes(mux)
	a.sessionStoreRoutes(mux)
	a.logoutRoutes(mux)
}

func (a *API) serveRoot(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "Keyward OpenID provider\nissuer: %s\ndiscovery: %s\n", a.Metadata.Issuer,
		a.Metadata.Issuer+"/.well-known/openid-configuration")
}

// servePing answers text/plain "pong", as Connect2id's
// (https://connect2id.com/products/server/docs/integration/monitoring);
// load balancers poll it, so a node that is not ready answers 503
// "unavailable" and the reason goes to the log only.
func (a *API) servePing(w http.ResponseWriter, r *http.Request) {
	if a.Ready != nil {
		if err := a.Ready(r.Context()); err != nil {
			a.log.WarnContext(r.Context(), "not ready", "error", err.Error())
			writeText(w, http.StatusServiceUnavailable, "unavailable")
			return
		}
	}
	writeText(w, http.StatusOK, "pong")
}
