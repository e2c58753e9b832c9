package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricsJSON fetches /monitor/v1/metrics and decodes it.
func (e *env) metricsJSON(t *testing.T) map[string]map[string]map[string]any {
	t.Helper()
	r := e.do(e.public, request{path: "/monitor/v1/metrics", header: bearer(monitorToken)})
	if r.status != http.StatusOK {
		t.Fatalf("metrics: %d %s", r.status, r.raw)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]map[string]any{}
	for _, k := range []string{"gauges", "counters", "histograms", "meters", "timers"} {
		m := map[string]map[string]any{}
		if err := json.Unmarshal(doc[k], &m); err != nil {
			t.Fatalf("%s: %v in %s", k, err, r.raw)
		}
		out[k] = m
	}
	if string(doc["version"]) == "" {
		t.Errorf("no version member: %s", r.raw)
	}
	return out
}

func count(m map[string]map[string]map[string]any, kind, name string) float64 {
	v, _ := m[kind][name]["count"].(float64)
	return v
}

// TestMetricsMove: the Connect2id-named JSON metrics count the requests
// made between two reads.
func TestMetricsMove(t *testing.T) {
	e := newEnv(t, envOptions{})
	before := e.metricsJSON(t)
	e.registerClient()
	for range 2 {
		r := e.do(e.public, request{method: "POST", path: "/token", header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic("nobody", "wrong")},
			body: "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Frp.example.com%2Fcb"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("token: %d %s", r.status, r.raw)
		}
	}
	e.do(e.public, request{method: "POST", path: "/token", header: map[string]string{
		"Content-Type": "application/x-www-form-urlencoded"}, body: "grant_type=urn%3Aexample%3Anonsense"})
	e.do(e.public, request{path: "/userinfo", header: bearer("not-a-token")})
	after := e.metricsJSON(t)
	for _, c := range []struct {
		kind, name string
		delta      float64
	}{
		{"meters", "clientRegistrationEndpoint.successfulRequests", 1},
		{"meters", "tokenEndpoint.code.invalidClientErrors", 2},
		{"timers", "tokenEndpoint.code.handlerTimer", 2},
		{"timers", "tokenEndpoint.other.handlerTimer", 1},
		{"meters", "userInfoEndpoint.invalidTokenErrors", 1},
	} {
		if got := count(after, c.kind, c.name) - count(before, c.kind, c.name); got != c.delta {
			t.Errorf("%s %s moved by %v, want %v", c.kind, c.name, got, c.delta)
		}
	}
	tm := after["timers"]["tokenEndpoint.code.handlerTimer"]
	for _, k := range []string{"max", "mean", "min", "p50", "p99", "stddev", "m1_rate", "mean_rate", "duration_units", "rate_units"} {
		if _, ok := tm[k]; !ok {
			t.Errorf("timer has no %q: %v", k, tm)
		}
	}
	if _, ok := after["counters"]["http.activeRequests"]; !ok {
		t.Error("no http.activeRequests counter")
	}
	// ?pretty=true indents, and is the same document.
	r := e.do(e.public, request{path: "/monitor/v1/metrics?pretty=true", header: bearer(monitorToken)})
	if !strings.Contains(string(r.raw), "\n  \"") || r.jsonErr != nil {
		t.Errorf("pretty: %.200q", r.raw)
	}
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	return req.Header.Get("Authorization")
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, e *env, header map[string]string) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.do(e.public, request{path: "/metrics", header: header})
	if r.status != http.StatusOK {
		t.Fatalf("/metrics: %d %s", r.status, r.raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.raw)))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

func hasSeries(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		}
		return 0
	}
	return -1
}

// TestPrometheusExposition: /metrics parses with expfmt and has the
// request, error and latency series of the requests made, and the Go
// runtime's.
func TestPrometheusExposition(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.do(e.public, request{method: "POST", path: "/token", header: map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic("nobody", "wrong")},
		body: "grant_type=refresh_token&refresh_token=x"})
	fams := scrape(t, e, bearer(monitorToken))
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"keyward_http_requests_total", map[string]string{"route": "POST /token", "grant": "refreshToken", "code": "401"}, 1},
		{"keyward_oauth_errors_total", map[string]string{"route": "POST /token", "grant": "refreshToken", "error": "invalid_client"}, 1},
		{"keyward_http_request_duration_seconds", map[string]string{"route": "POST /token", "grant": "refreshToken"}, 1},
	} {
		if got := hasSeries(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "keyward_http_requests_in_flight"} {
		if fams[name] == nil {
			t.Errorf("no %s series", name)
		}
	}
}

// TestMonitoringNeedsToken: the monitoring API and /metrics answer 401
// without a monitoring token; /metrics opens only when configured so; the
// orchestrator probes need none.
func TestMonitoringNeedsToken(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/monitor/v1/metrics", "/monitor/v1/healthcheck", "/monitor/v1/ping", "/metrics"} {
		if r := e.do(e.public, request{path: path}); r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a token: %d, want 401 with a challenge", path, r.status)
		}
		if r := e.do(e.public, request{path: path, header: bearer("wrong-token")}); r.status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, r.status)
		}
		if r := e.do(e.public, request{path: path + "?access_token=" + apiToken}); r.status != http.StatusUnauthorized {
			t.Errorf("%s with the master token in the query: %d, want 401", path, r.status)
		}
		if r := e.do(e.public, request{path: path + "?access_token=" + monitorToken}); r.status != http.StatusOK {
			t.Errorf("%s with the monitoring token in the query: %d, want 200", path, r.status)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.do(e.public, request{path: path}); r.status != http.StatusOK {
			t.Errorf("%s: %d, want 200 without a token", path, r.status)
		}
	}
	open := newEnv(t, envOptions{prometheusOpen: true})
	scrape(t, open, nil)
	if r := open.do(open.public, request{path: "/monitor/v1/metrics"}); r.status != http.StatusUnauthorized {
		t.Errorf("prometheus_open opened /monitor/v1/metrics too: %d", r.status)
	}
}

// TestHealthcheck: every check is reported; one failing turns the answer
// 503 with its message, and it recovers when the check does. /readyz
// follows the readiness check and tells nothing.
func TestHealthcheck(t *testing.T) {
	var down atomic.Bool
	var ready atomic.Bool
	ready.Store(true)
	e := newEnv(t, envOptions{
		health: []HealthCheck{
			{Name: "durableStore", Check: func(context.Context) error { return nil }},
			{Name: "ephemeralStore", Check: func(context.Context) error {
				if down.Load() {
					return errors.New("dial tcp 127.0.0.1:6379: connection refused")
				}
				return nil
			}},
		},
		ready: func(context.Context) error {
			if !ready.Load() {
				return errors.New("store unreachable at 10.0.0.7")
			}
			return nil
		},
	})
	get := func() *response {
		return e.do(e.public, request{path: "/monitor/v1/healthcheck", header: bearer(monitorToken)})
	}
	r := get()
	if r.status != 200 || r.body["durableStore"] == nil || r.body["ephemeralStore"].(map[string]any)["healthy"] != true {
		t.Fatalf("healthy: %d %s", r.status, r.raw)
	}
	down.Store(true)
	r = get()
	eph, _ := r.body["ephemeralStore"].(map[string]any)
	if r.status != http.StatusServiceUnavailable || eph["healthy"] != false || !strings.Contains(eph["message"].(string), "connection refused") {
		t.Errorf("one check down: %d %s, want 503 naming it", r.status, r.raw)
	}
	if d, _ := r.body["durableStore"].(map[string]any); d["healthy"] != true {
		t.Errorf("the healthy check is not reported healthy: %s", r.raw)
	}
	down.Store(false)
	if r := get(); r.status != 200 {
		t.Errorf("after recovery: %d %s", r.status, r.raw)
	}

	ready.Store(false)
	r = e.do(e.public, request{path: "/readyz"})
	if r.status != http.StatusServiceUnavailable || strings.Contains(string(r.raw), "10.0.0.7") {
		t.Errorf("readyz not ready: %d %q, want 503 without details", r.status, r.raw)
	}
	if r := e.do(e.public, request{path: "/healthz"}); r.status != 200 {
		t.Errorf("healthz while not ready: %d, want 200 (the process lives)", r.status)
	}
}
