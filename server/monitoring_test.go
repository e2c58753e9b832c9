package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// TestHealthcheckFollowsTheStore: with Redis as the ephemeral store, the
// health check and readiness turn 503 when Redis goes away, naming it in
// the health check only, and recover when it comes back.
func TestHealthcheckFollowsTheStore(t *testing.T) {
	m := miniredis.RunT(t)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Redis = "redis://" + m.Addr() + "/0"
	srv, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	get := func(path string, auth bool) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+srv.APIToken())
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	health := func() (int, map[string]map[string]any) {
		code, body := get("/monitor/v1/healthcheck", true)
		var out map[string]map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("healthcheck body %q: %v", body, err)
		}
		return code, out
	}
	if code, out := health(); code != http.StatusOK || out["ephemeralStore"]["healthy"] != true || out["durableStore"]["healthy"] != true {
		t.Fatalf("healthy node: %d %v", code, out)
	}
	if code, _ := get("/readyz", false); code != http.StatusOK {
		t.Fatalf("readyz: %d", code)
	}

	m.Close()
	code, out := health()
	if code != http.StatusServiceUnavailable || out["ephemeralStore"]["healthy"] != false || out["ephemeralStore"]["message"] == "" {
		t.Errorf("Redis down: %d %v, want 503 naming ephemeralStore", code, out)
	}
	if out["durableStore"]["healthy"] != true {
		t.Errorf("Redis down: the durable store is reported %v", out["durableStore"])
	}
	if code, body := get("/readyz", false); code != http.StatusServiceUnavailable || strings.Contains(body, "redis") {
		t.Errorf("readyz with Redis down: %d %q, want 503 without details", code, body)
	}
	if code, _ := get("/healthz", false); code != http.StatusOK {
		t.Errorf("healthz with Redis down: %d, want 200", code)
	}

	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	if code, out := health(); code != http.StatusOK {
		t.Errorf("Redis back: %d %v", code, out)
	}
	if code, _ := get("/readyz", false); code != http.StatusOK {
		t.Errorf("readyz with Redis back: %d", code)
	}
}

// TestKeyAgeGauge: the active signing key's age is a Prometheus gauge.
func TestKeyAgeGauge(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	srv, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+srv.APIToken())
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	_, after, ok := strings.Cut(rec.Body.String(), "\nkeyward_signing_key_age_seconds ")
	value, _, _ := strings.Cut(after, "\n")
	if rec.Code != 200 || !ok || value == "NaN" || strings.HasPrefix(value, "-") {
		t.Errorf("/metrics: %d, keyward_signing_key_age_seconds %q, want a non-negative age", rec.Code, value)
	}
	for _, name := range []string{"keyward_backchannel_logout_delivered_total", "keyward_backchannel_logout_failed_total"} {
		if !strings.Contains(rec.Body.String(), "\n"+name+" ") {
			t.Errorf("no %s series", name)
		}
	}
}
