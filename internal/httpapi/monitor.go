package httpapi

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/metrics"
)

// HealthCheck is one named check of GET /monitor/v1/healthcheck: the
// durable store, the ephemeral store (Redis), a claims source, a web hook.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// healthTimeout bounds one health check run, so that a hung backend makes
// the answer 503 rather than hanging the load balancer's probe.
const healthTimeout = 5 * time.Second

// observation is what a request's handlers tell the metrics middleware:
// the grant type and the OAuth error code of the answer.
type observation struct {
	mu        sync.Mutex
	grant     string
	errorCode string
}

type obsKey struct{}

func observe(ctx context.Context) *observation {
	o, _ := ctx.Value(obsKey{}).(*observation)
	return o
}

// noteGrant records the token request's grant type for the metrics.
func noteGrant(r *http.Request, grantType string) {
	if o := observe(r.Context()); o != nil {
		o.mu.Lock()
		o.grant = metrics.GrantName(grantType)
		o.mu.Unlock()
	}
}

// noteError records the OAuth error code of the answer for the metrics.
func noteError(r *http.Request, code string) {
	if o := observe(r.Context()); o != nil {
		o.mu.Lock()
		o.errorCode = code
		o.mu.Unlock()
	}
}

// endpointNames maps route patterns to the metric prefixes of the
// Connect2id monitoring API (docs/operator-guide.md, "Monitoring").
func endpointName(route string) string {
	_, path, _ := strings.Cut(route, " ")
	switch {
	case path == "/token":
		return "tokenEndpoint"
	case path == "/par":
		return "parEndpoint"
	case path == "/userinfo":
		return "userInfoEndpoint"
	case path == "/token/introspect":
		return "tokenIntrospectionEndpoint"
	case path == "/token/revoke":
		return "tokenRevocationEndpoint"
	case path == "/clients" || strings.HasPrefix(path, "/clients/"):
		return "clientRegistrationEndpoint"
	case strings.HasPrefix(path, "/authz-sessions/"):
		return "authzEndpoint"
	case strings.HasPrefix(path, "/direct-authz/"):
		return "directAuthzEndpoint"
	case strings.HasPrefix(path, "/authz-store/"):
		return "authzStoreEndpoint"
	case strings.HasPrefix(path, "/session-store/"):
		return "sessionStoreEndpoint"
	case strings.HasPrefix(path, "/logout-sessions/"):
		return "logoutSessionEndpoint"
	}
	return ""
}

// withMetrics records every request in a.Metrics. It must be the handler
// the mux is called from, so that the route pattern the mux stores in the
// request (http.Request.Pattern) is visible here afterwards.
func (a *API) withMetrics(next http.Handler) http.Handler {
	if a.Metrics == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := &observation{}
		r = r.WithContext(context.WithValue(r.Context(), obsKey{}, o))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		a.Metrics.InFlight(1)
		defer func() {
			a.Metrics.InFlight(-1)
			o.mu.Lock()
			grant, code := o.grant, o.errorCode
			o.mu.Unlock()
			a.Metrics.ObserveRequest(metrics.Request{
				Endpoint: endpointName(r.Pattern), Route: r.Pattern, Grant: grant,
				ErrorCode: code, Status: rec.status, Duration: time.Since(start),
			})
		}()
		next.ServeHTTP(rec, r)
	})
}

// monitorRoutes adds the monitoring API (docs/api.md, "Monitoring API")
// and Prometheus's /metrics to the integration routes.
func (a *API) monitorRoutes(mux *http.ServeMux) {
	mux.Handle("GET /monitor/v1/healthcheck", a.requireMonitorToken(http.HandlerFunc(a.serveHealthcheck)))
	if a.Pprof {
		a.pprofRoutes(mux)
	}
	if a.Metrics == nil {
		return
	}
	mux.Handle("GET /monitor/v1/metrics", a.requireMonitorToken(http.HandlerFunc(a.serveMetricsJSON)))
	prom := a.Metrics.PrometheusHandler()
	if !a.PrometheusOpen {
		prom = a.requireMonitorToken(prom)
	}
	mux.Handle("GET /metrics", prom)
}

// probeRoutes adds the orchestrator probes: /healthz (liveness: the
// process answers) and /readyz (readiness: stores and plug-ins). They take
// no token and give no details, so that they can be exposed to the kubelet
// or a load balancer without opening anything.
func (a *API) probeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if a.Ready != nil {
			if err := a.Ready(r.Context()); err != nil {
				a.log.WarnContext(r.Context(), "not ready", "error", err.Error())
				writeText(w, http.StatusServiceUnavailable, "unavailable\n")
				return
			}
		}
		writeText(w, http.StatusOK, "ok\n")
	})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// serveMetricsJSON: GET /monitor/v1/metrics[?pretty=true], the
// Dropwizard JSON of Connect2id's monitoring API
// (https://connect2id.com/products/server/docs/integration/monitoring).
func (a *API) serveMetricsJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	a.Metrics.WriteJSON(w, r.URL.Query().Get("pretty") == "true")
}

// serveHealthcheck: GET /monitor/v1/healthcheck. Every check runs; the
// answer is 200 when all pass and 503 otherwise, with each check's
// result in Dropwizard's health-check JSON shape ({"name": {"healthy":
// bool, "message": "..."}}). Details are shown: the API is behind the
// monitoring token.
func (a *API) serveHealthcheck(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	type result struct {
		Healthy bool   `json:"healthy"`
		Message string `json:"message,omitempty"`
	}
	out := make(map[string]result, len(a.HealthChecks))
	results := make([]result, len(a.HealthChecks))
	var wg sync.WaitGroup
	for i, c := range a.HealthChecks {
		wg.Go(func() {
			if err := c.Check(ctx); err != nil {
				results[i] = result{Message: err.Error()}
				return
			}
			results[i] = result{Healthy: true}
		})
	}
	wg.Wait()
	status := http.StatusOK
	for i, c := range a.HealthChecks {
		out[c.Name] = results[i]
		if !results[i].Healthy {
			status = http.StatusServiceUnavailable
			a.log.WarnContext(r.Context(), "health check failed", "check", c.Name, "error", results[i].Message)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, out)
}
