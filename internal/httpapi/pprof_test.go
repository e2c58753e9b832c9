package httpapi

import (
	"bytes"
	"net/http"
	"testing"
)

// TestPprofOffByDefault: without monitor.pprof the profile routes do not
// exist, even with the monitoring token.
func TestPprofOffByDefault(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/cmdline"} {
		if r := e.do(e.public, request{path: path, header: bearer(monitorToken)}); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404: %q", path, r.status, r.raw)
		}
	}
}

// TestPprofOn: with monitor.pprof the profiles answer to a monitoring
// token (header or query) on the integration handler only, and refuse a
// missing or wrong token with 401 invalid_token.
func TestPprofOn(t *testing.T) {
	e := newEnv(t, envOptions{pprof: true, split: true})
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"no token", "/debug/pprof/heap", nil, http.StatusUnauthorized},
		{"wrong token", "/debug/pprof/heap", bearer("not-the-token-0123456789abcdefghijklmn"), http.StatusUnauthorized},
		{"wrong token, profile", "/debug/pprof/profile?seconds=1", bearer("x"), http.StatusUnauthorized},
		{"index", "/debug/pprof/", bearer(monitorToken), http.StatusOK},
		{"heap", "/debug/pprof/heap", bearer(apiToken), http.StatusOK},
		{"query token", "/debug/pprof/goroutine?access_token=" + monitorToken, nil, http.StatusOK},
		{"cmdline", "/debug/pprof/cmdline", bearer(monitorToken), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(e.integration, request{path: tc.path, header: tc.header})
			if r.status != tc.want {
				t.Fatalf("%d, want %d: %q", r.status, tc.want, r.raw)
			}
			if tc.want == http.StatusUnauthorized {
				if got, _ := r.body["error"].(string); got != "invalid_token" {
					t.Errorf("error %q, want invalid_token", got)
				}
				if bytes.Contains(r.raw, []byte("goroutine")) {
					t.Errorf("a refused request leaked profile data: %q", r.raw)
				}
			}
		})
	}
	// The heap profile is the gzipped protobuf pprof reads.
	r := e.do(e.integration, request{path: "/debug/pprof/heap", header: bearer(monitorToken)})
	if !bytes.HasPrefix(r.raw, []byte{0x1f, 0x8b}) {
		t.Errorf("heap profile is not gzip: % x", r.raw[:min(8, len(r.raw))])
	}
	// A CPU profile runs for the seconds asked.
	if r := e.do(e.integration, request{path: "/debug/pprof/profile?seconds=1", header: bearer(monitorToken)}); r.status != http.StatusOK || !bytes.HasPrefix(r.raw, []byte{0x1f, 0x8b}) {
		t.Errorf("profile: %d % x", r.status, r.raw[:min(8, len(r.raw))])
	}
	// Never on the public listener.
	if r := e.do(e.public, request{path: "/debug/pprof/heap", header: bearer(monitorToken)}); r.status != http.StatusNotFound {
		t.Errorf("public listener: %d, want 404", r.status)
	}
}
