package server

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/plugin"
)

type flakySource struct{ err error }

func (f flakySource) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return map[string]any{"email": "a@example.com"}, f.err
}
func (flakySource) SupportedClaims() []string { return []string{"email"} }

type onlyClaims struct{}

func (onlyClaims) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return nil, nil
}

// TestMeasuredSource: claims-source calls and failures are counted, and
// the answer passes through unchanged.
func TestMeasuredSource(t *testing.T) {
	m := metrics.New(nil)
	ok := measured(flakySource{}, "hr", m)
	bad := measured(flakySource{errors.New("directory down")}, "hr", m)
	if sup, isSup := ok.(plugin.ClaimsSupporter); !isSup || sup.SupportedClaims()[0] != "email" {
		t.Error("the wrapper hides SupportedClaims: the resolver would route every claim to the source")
	}
	if _, isSup := measured(onlyClaims{}, "x", m).(plugin.ClaimsSupporter); isSup {
		t.Error("the wrapper adds SupportedClaims to a source without it")
	}
	if out, err := ok.Claims(t.Context(), plugin.ClaimsRequest{}); err != nil || out["email"] != "a@example.com" {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := bad.Claims(t.Context(), plugin.ClaimsRequest{}); err == nil {
		t.Fatal("the error was swallowed")
	}
	if n := m.Timer("claimsSource.hr.calls").Count(); n != 2 {
		t.Errorf("calls %d, want 2", n)
	}
	if n := m.Meter("claimsSource.hr.failures").Count(); n != 1 {
		t.Errorf("failures %d, want 1", n)
	}
}

// TestDocsNameRealSeries: every keyward_ series that the Grafana
// dashboard and the alert rules use is one the server exposes, so that
// the docs cannot drift from the code.
func TestDocsNameRealSeries(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	srv, err := New(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	// Series with labels appear once observed.
	srv.metrics.ObservePluginCall("claimsSource", "x", time.Millisecond, errors.New("down"))
	srv.metrics.ObserveRequest(metrics.Request{Route: "POST /token", Grant: "code", ErrorCode: "invalid_grant", Status: 400})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+srv.APIToken())
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	series := regexp.MustCompile(`keyward_[a-z_]+`)
	for _, file := range []string{"../docs/alerts.yaml", "../docs/grafana/keyward.json", "../docs/api.md"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if strings.HasSuffix(file, "api.md") {
			_, text, _ = strings.Cut(text, "## 17. Monitoring")
		}
		for _, name := range series.FindAllString(text, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if strings.HasSuffix(base, "_") {
				continue // a name written as a brace pattern, e.g. keyward_backchannel_logout_{...}
			}
			if fams[base] == nil {
				t.Errorf("%s names %s, which the server does not expose", file, name)
			}
		}
	}
}
