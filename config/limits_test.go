package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadLimitsYAML(t *testing.T, yaml string, environ ...string) (Config, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(Sources{File: file, Environ: environ})
}

func TestLimitsLoad(t *testing.T) {
	cfg, err := loadLimitsYAML(t, `
trusted_proxies: [10.0.0.0/8, 192.0.2.7]
rate_limits:
  token:
    per_client: {rate: 2.5, burst: 5}
http:
  read_header_timeout: 3s
  max_body_bytes: 8192
limits:
  max_par_requests: 10
admission:
  token: {max_in_flight: 3, max_queue: 0, queue_timeout: 200ms}
`, "KEYWARD_RATE_LIMITS_LOGIN_PER_ADDRESS_BURST=7")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.RateLimits.Token.PerClient != (Rate{2.5, 5}) ||
		cfg.RateLimits.Token.PerAddress != (Rate{100, 200}) || cfg.RateLimits.Login.PerAddress.Burst != 7 ||
		cfg.HTTP.ReadHeaderTimeout != 3*time.Second || cfg.HTTP.MaxBodyBytes != 8192 ||
		cfg.Limits.MaxPARRequests != 10 || cfg.Admission.Token.MaxInFlight != 3 ||
		cfg.Admission.Token.QueueTimeout != 200*time.Millisecond {
		t.Errorf("loaded %+v %+v %+v %+v", cfg.RateLimits, cfg.HTTP, cfg.Limits, cfg.Admission)
	}
}

func TestLimitsRefused(t *testing.T) {
	for yaml, want := range map[string]string{
		"trusted_proxies: [example.com]":                                      `trusted_proxies: "example.com"`,
		"trusted_proxy_header: X-Real-IP":                                     `trusted_proxy_header "X-Real-IP"`,
		"rate_limits: {token: {per_client: {rate: -1}}}":                      "rate_limits.token.per_client",
		"rate_limits: {api_auth_failures: {per_client: {rate: 1, burst: 1}}}": "rate_limits.api_auth_failures.per_client is not supported",
		"rate_limits: {token: {per_user: {rate: 1}}}":                         "rate_limits.token.per_user",
		"http: {read_timeout: 0s}":                                            "http.read_timeout must be positive",
		"http: {max_body_bytes: 10}":                                          "http.max_body_bytes 10",
		"limits: {max_authz_sessions: -1}":                                    "limits.max_authz_sessions",
		"admission: {ui: {queue_timeout: 0s}}":                                "admission.ui.queue_timeout",
		"admission: {bogus: {max_queue: 1}}":                                  "admission.bogus",
	} {
		_, err := loadLimitsYAML(t, yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to name %q", yaml, err, want)
		}
	}
}
