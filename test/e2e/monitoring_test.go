package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/oauth2"
)

// metricCounts reads /monitor/v1/metrics and returns the count of every
// meter and timer, by name.
func (e *env) metricCounts() map[string]float64 {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/monitor/v1/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	status, body := e.doJSON(req)
	if status != http.StatusOK {
		e.t.Fatalf("metrics: %d %v", status, body)
	}
	out := map[string]float64{}
	for _, kind := range []string{"meters", "timers"} {
		m, _ := body[kind].(map[string]any)
		for name, v := range m {
			c, _ := v.(map[string]any)["count"].(float64)
			out[name] = c
		}
	}
	return out
}

// TestMetricsFollowAFlow: a full code flow with a real relying party
// (x/oauth2), a refresh, UserInfo and a refused redemption move the
// Connect2id-named JSON metrics by exactly what was done, and the
// Prometheus exposition carries the same requests.
func TestMetricsFollowAFlow(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	before := e.metricCounts()

	tok := r.loginTokens("alice", "")
	if _, err := r.conf.TokenSource(r.ctx(), &oauth2.Token{RefreshToken: tok.refresh}).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := r.userInfo(&oauth2.Token{AccessToken: tok.access, TokenType: "Bearer"}); err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if status, _ := r.redeem("not-a-code", oauth2.GenerateVerifier()); status != http.StatusBadRequest {
		t.Fatalf("bad code: %d", status)
	}
	if status, _, _ := e.postForm("/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, r.conf.ClientID, "wrong-secret"); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", status)
	}

	after := e.metricCounts()
	for name, want := range map[string]float64{
		"authzEndpoint.successfulRequests":              2, // start and subject; consent too when it is asked
		"tokenEndpoint.code.successfulRequests":         1,
		"tokenEndpoint.code.invalidGrantErrors":         1,
		"tokenEndpoint.code.invalidClientErrors":        1,
		"tokenEndpoint.code.handlerTimer":               3,
		"tokenEndpoint.refreshToken.successfulRequests": 1,
		"userInfoEndpoint.successfulRequests":           1,
	} {
		got := after[name] - before[name]
		if name == "authzEndpoint.successfulRequests" {
			if got < want {
				t.Errorf("%s moved by %v, want at least %v", name, got, want)
			}
			continue
		}
		if got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	found := false
	for _, m := range fams["keyward_oauth_errors_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "POST /token" && labels["grant"] == "code" && labels["error"] == "invalid_grant" && m.GetCounter().GetValue() >= 1 {
			found = true
		}
	}
	if !found {
		b, _ := json.Marshal(fams["keyward_oauth_errors_total"])
		t.Errorf("no keyward_oauth_errors_total{route=\"POST /token\",grant=\"code\",error=\"invalid_grant\"}: %s", b)
	}
}
