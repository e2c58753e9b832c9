package metrics

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry records each measurement once and renders it two ways: the
// Connect2id/Dropwizard JSON of /monitor/v1/metrics and the Prometheus
// exposition of /metrics. The Prometheus registry is the Registry's own,
// never prometheus.DefaultRegisterer, so that two servers in one process
// (tests, embedding) do not collide.
type Registry struct {
	now func() time.Time

	mu       sync.Mutex
	meters   map[string]*Meter
	timers   map[string]*Timer
	hists    map[string]*Histogram
	counters map[string]*Counter
	gauges   map[string]func() float64

	prom           *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	oauthErrors    *prometheus.CounterVec
	inFlight       prometheus.Gauge
	pluginCalls    *prometheus.CounterVec
	pluginFailures *prometheus.CounterVec
	pluginDuration *prometheus.HistogramVec
}

// New returns an empty registry; now is the clock of the meters' rates
// (nil: time.Now).
func New(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	r := &Registry{
		now: now, meters: map[string]*Meter{}, timers: map[string]*Timer{},
		hists: map[string]*Histogram{}, counters: map[string]*Counter{}, gauges: map[string]func() float64{},
		prom: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_http_requests_total",
			Help: "HTTP requests by route pattern, grant type (token endpoint only) and status code.",
		}, []string{"route", "grant", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern and grant type (token endpoint only).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "grant"}),
		oauthErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_oauth_errors_total",
			Help: "Error answers by route pattern, grant type (token endpoint only) and OAuth error code.",
		}, []string{"route", "grant", "error"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyward_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		pluginCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_plugin_calls_total",
			Help: "Calls to claims sources and web hooks.",
		}, []string{"kind", "name"}),
		pluginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_plugin_failures_total",
			Help: "Failed calls to claims sources and web hooks.",
		}, []string{"kind", "name"}),
		pluginDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_plugin_call_duration_seconds",
			Help:    "Time taken by calls to claims sources and web hooks.",
			Buckets: prometheus.DefBuckets,
		}, []string{"kind", "name"}),
	}
	r.prom.MustRegister(r.requests, r.duration, r.oauthErrors, r.inFlight,
		r.pluginCalls, r.pluginFailures, r.pluginDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Meter returns the meter called name, creating it on first use.
func (r *Registry) Meter(name string) *Meter {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.meters[name]
	if !ok {
		m = newMeter(r.now)
		r.meters[name] = m
	}
	return m
}

// Timer returns the timer called name, creating it on first use.
func (r *Registry) Timer(name string) *Timer {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.timers[name]
	if !ok {
		t = &Timer{meter: newMeter(r.now)}
		r.timers[name] = t
	}
	return t
}

// Counter returns the counter called name, creating it on first use.
func (r *Registry) Counter(name string) *Counter {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.counters[name]
	if !ok {
		c = &Counter{}
		r.counters[name] = c
	}
	return c
}

// Gauge registers a value read when the metrics are rendered, under
// jsonName in the JSON and promName (with help) in Prometheus. f must be
// cheap and safe to call concurrently.
func (r *Registry) Gauge(jsonName, promName, help string, f func() float64) error {
	if err := r.prom.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: promName, Help: help}, f)); err != nil {
		return err
	}
	r.mu.Lock()
	r.gauges[jsonName] = f
	r.mu.Unlock()
	return nil
}

// CounterFunc registers a monotonic count kept elsewhere, read when the
// metrics are rendered: a gauge jsonName in the JSON (Dropwizard has no
// function counters) and a counter promName (ending in _total) in
// Prometheus.
func (r *Registry) CounterFunc(jsonName, promName, help string, f func() float64) error {
	if err := r.prom.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: promName, Help: help}, f)); err != nil {
		return err
	}
	r.mu.Lock()
	r.gauges[jsonName] = f
	r.mu.Unlock()
	return nil
}

// Request is one answered HTTP request.
type Request struct {
	// Endpoint is the Connect2id metric prefix of the endpoint
	// ("tokenEndpoint", "userInfoEndpoint", ...), or "" for routes that
	// have no JSON metrics.
	Endpoint string
	// Route is the route pattern ("POST /token"); "" when none matched.
	Route string
	// Grant is the grant type's metric name (GrantName), token endpoint only.
	Grant string
	// ErrorCode is the OAuth error code of an error answer.
	ErrorCode string
	Status    int
	Duration  time.Duration
}

// InFlight counts a request starting (+1) or ending (-1).
func (r *Registry) InFlight(d int64) {
	r.inFlight.Add(float64(d))
	r.Counter("http.activeRequests").Add(d)
}

// ObserveRequest records an answered request: in the JSON as meters
// <endpoint>[.<grant>].successfulRequests / .<error>Errors (Connect2id's
// names) and a .handlerTimer; in Prometheus as keyward_http_requests_total,
// keyward_http_request_duration_seconds and keyward_oauth_errors_total.
func (r *Registry) ObserveRequest(q Request) {
	route := q.Route
	if route == "" {
		route = "unmatched"
	}
	code := q.ErrorCode
	if code == "" && q.Status >= 500 {
		code = "server_error"
	}
	code = safeLabel(code)
	r.requests.WithLabelValues(route, q.Grant, strconv.Itoa(q.Status)).Inc()
	r.duration.WithLabelValues(route, q.Grant).Observe(q.Duration.Seconds())
	if code != "" {
		r.oauthErrors.WithLabelValues(route, q.Grant, code).Inc()
	}
	if q.Endpoint == "" {
		return
	}
	prefix := q.Endpoint
	if q.Grant != "" {
		prefix += "." + q.Grant
	}
	r.Timer(prefix + ".handlerTimer").Update(q.Duration)
	switch {
	case code == "" && q.Status < 400:
		r.Meter(prefix + ".successfulRequests").Mark()
	case code != "":
		r.Meter(prefix + "." + ErrorMeterName(code)).Mark()
	}
}

// ObservePluginCall records a call to a claims source (kind
// "claimsSource") or web hook (kind "webHook") named name.
func (r *Registry) ObservePluginCall(kind, name string, d time.Duration, err error) {
	name = safeLabel(name)
	r.pluginCalls.WithLabelValues(kind, name).Inc()
	r.pluginDuration.WithLabelValues(kind, name).Observe(d.Seconds())
	r.Timer(kind + "." + name + ".calls").Update(d)
	if err != nil {
		r.pluginFailures.WithLabelValues(kind, name).Inc()
		r.Meter(kind + "." + name + ".failures").Mark()
	}
}

// ErrorMeterName is the Connect2id meter suffix of an OAuth error code:
// invalid_client → invalidClientErrors, server_error → serverErrors, and
// invalid_request → invalidRequests, as Connect2id names them.
func ErrorMeterName(code string) string {
	if code == "invalid_request" {
		return "invalidRequests"
	}
	return camel(strings.TrimSuffix(code, "_error")) + "Errors"
}

func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// safeLabel keeps label values bounded: error codes come from the server
// and plug-ins, but a plug-in could return anything.
func safeLabel(s string) string {
	if len(s) > 48 {
		return "other"
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return "other"
		}
	}
	return s
}

// grantNames are the Connect2id metric names of the grant types
// (tokenEndpoint.<grant>.*).
var grantNames = map[string]string{
	"authorization_code": "code",
	"refresh_token":      "refreshToken",
	"password":           "password",
	"client_credentials": "clientCredentials",
	"urn:ietf:params:oauth:grant-type:jwt-bearer":     "jwtBearer",
	"urn:ietf:params:oauth:grant-type:saml2-bearer":   "saml2Bearer",
	"urn:ietf:params:oauth:grant-type:token-exchange": "tokenExchange",
	"urn:ietf:params:oauth:grant-type:device_code":    "deviceCode",
	"urn:openid:params:grant-type:ciba":               "ciba",
}

// GrantName is the metric name of a grant_type value; anything else,
// including the values of a client that sends garbage, is "other", so
// that callers cannot grow the label set.
func GrantName(grantType string) string {
	if n, ok := grantNames[grantType]; ok {
		return n
	}
	if grantType == "" {
		return "none"
	}
	return "other"
}

// jsonVersion is the version member Dropwizard's metrics-json writes.
const jsonVersion = "4.0.0"

// WriteJSON writes the Dropwizard JSON of every metric; pretty indents it.
func (r *Registry) WriteJSON(w io.Writer, pretty bool) error {
	r.mu.Lock()
	meters, timers := maps.Clone(r.meters), maps.Clone(r.timers)
	hists, counters, gauges := maps.Clone(r.hists), maps.Clone(r.counters), maps.Clone(r.gauges)
	r.mu.Unlock()
	doc := map[string]any{
		"version": jsonVersion, "gauges": map[string]any{}, "counters": map[string]any{},
		"histograms": map[string]any{}, "meters": map[string]any{}, "timers": map[string]any{},
	}
	for k, f := range gauges {
		doc["gauges"].(map[string]any)[k] = map[string]any{"value": f()}
	}
	for k, c := range counters {
		doc["counters"].(map[string]any)[k] = map[string]any{"count": c.Count()}
	}
	for k, h := range hists {
		doc["histograms"].(map[string]any)[k] = h.snapshot()
	}
	for k, m := range meters {
		doc["meters"].(map[string]any)[k] = m.snapshot()
	}
	for k, t := range timers {
		doc["timers"].(map[string]any)[k] = t.snapshot()
	}
	enc := json.NewEncoder(w)
	if pretty {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(doc)
}

// PrometheusHandler serves the Prometheus exposition of the registry.
func (r *Registry) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{})
}
