package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestNames(t *testing.T) {
	for code, want := range map[string]string{
		"invalid_client": "invalidClientErrors", "invalid_grant": "invalidGrantErrors",
		"server_error": "serverErrors", "invalid_request": "invalidRequests",
		"unauthorized_client": "unauthorizedClientErrors",
	} {
		if got := ErrorMeterName(code); got != want {
			t.Errorf("ErrorMeterName(%q) = %q, want %q", code, got, want)
		}
	}
	for gt, want := range map[string]string{
		"authorization_code": "code", "refresh_token": "refreshToken", "client_credentials": "clientCredentials",
		"urn:ietf:params:oauth:grant-type:jwt-bearer": "jwtBearer", "": "none",
		"urn:attacker:" + strings.Repeat("x", 100): "other",
	} {
		if got := GrantName(gt); got != want {
			t.Errorf("GrantName(%q) = %q, want %q", gt, got, want)
		}
	}
}

// TestOneRecordTwoRenderings: a request and a plug-in call recorded once
// appear in the Dropwizard JSON and in the Prometheus exposition.
func TestOneRecordTwoRenderings(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	r := New(func() time.Time { return now })
	r.ObserveRequest(Request{Endpoint: "tokenEndpoint", Route: "POST /token", Grant: "code", Status: 200, Duration: 20 * time.Millisecond})
	r.ObserveRequest(Request{Endpoint: "tokenEndpoint", Route: "POST /token", Grant: "code", ErrorCode: "invalid_grant", Status: 400, Duration: 10 * time.Millisecond})
	r.ObserveRequest(Request{Endpoint: "userInfoEndpoint", Route: "GET /userinfo", Status: 500, Duration: time.Millisecond})
	r.ObserveRequest(Request{Route: "", Status: 404})
	r.ObserveRequest(Request{Endpoint: "tokenEndpoint", Route: "POST /token", Grant: "code", ErrorCode: "evil\"label\n", Status: 400})
	r.ObservePluginCall("claimsSource", "ldap", time.Millisecond, nil)
	r.ObservePluginCall("claimsSource", "ldap", time.Millisecond, errors.New("down"))
	if err := r.Gauge("test.value", "keyward_test_value", "a test gauge", func() float64 { return 42 }); err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second)

	var buf bytes.Buffer
	if err := r.WriteJSON(&buf, false); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version    string                    `json:"version"`
		Gauges     map[string]map[string]any `json:"gauges"`
		Counters   map[string]map[string]any `json:"counters"`
		Histograms map[string]map[string]any `json:"histograms"`
		Meters     map[string]map[string]any `json:"meters"`
		Timers     map[string]map[string]any `json:"timers"`
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"tokenEndpoint.code.successfulRequests": 1, "tokenEndpoint.code.invalidGrantErrors": 1,
		"userInfoEndpoint.serverErrors": 1, "claimsSource.ldap.failures": 1, "tokenEndpoint.code.otherErrors": 1,
	} {
		if got := doc.Meters[name]["count"]; got != want {
			t.Errorf("meter %s = %v, want %v (meters %v)", name, got, want, doc.Meters)
		}
	}
	if got := doc.Timers["tokenEndpoint.code.handlerTimer"]; got["count"] != 3.0 || got["max"] != 0.02 || got["min"] != 0.0 {
		t.Errorf("handler timer %v", got)
	}
	if doc.Meters["tokenEndpoint.code.successfulRequests"]["mean_rate"] != 0.1 {
		t.Errorf("mean rate %v, want 0.1/s", doc.Meters["tokenEndpoint.code.successfulRequests"]["mean_rate"])
	}
	if doc.Gauges["test.value"]["value"] != 42.0 || doc.Version == "" {
		t.Errorf("gauge/version: %v %q", doc.Gauges, doc.Version)
	}

	rec := httptest.NewRecorder()
	r.PrometheusHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keyward_http_requests_total", "keyward_oauth_errors_total", "keyward_http_request_duration_seconds",
		"keyward_plugin_calls_total", "keyward_plugin_failures_total", "keyward_test_value", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	for _, m := range fams["keyward_oauth_errors_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.ContainsAny(l.GetValue(), "\"\n") {
				t.Errorf("unsafe label value %q kept", l.GetValue())
			}
		}
	}
}

// TestTwoRegistries: registries are independent (no global registry), so
// two servers in one process do not collide.
func TestTwoRegistries(t *testing.T) {
	a, b := New(nil), New(nil)
	for _, r := range []*Registry{a, b} {
		if err := r.Gauge("x", "keyward_x", "x", func() float64 { return 1 }); err != nil {
			t.Fatal(err)
		}
	}
	a.ObserveRequest(Request{Endpoint: "tokenEndpoint", Grant: "code", Status: 200})
	if b.Meter("tokenEndpoint.code.successfulRequests").Count() != 0 {
		t.Error("a request recorded in one registry shows in the other")
	}
}

// BenchmarkObserveRequest: recording is on every request's path.
func BenchmarkObserveRequest(b *testing.B) {
	r := New(nil)
	for b.Loop() {
		r.ObserveRequest(Request{Endpoint: "tokenEndpoint", Route: "POST /token", Grant: "code", Status: 200, Duration: time.Millisecond})
	}
}
