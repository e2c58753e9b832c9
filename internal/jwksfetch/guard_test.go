package jwksfetch

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestGuardedRefusesLoopback: outside development the guarded fetcher
// does not connect to a loopback server (the address actually dialled is
// checked), refuses plain http, and the server sees no request.
func TestGuardedRefusesLoopback(t *testing.T) {
	hits := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer plain.Close()

	f := NewGuarded(Options{Timeout: 5 * time.Second})
	_, err := f.Fetch(t.Context(), srv.URL, 1024)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("https to loopback: err = %v, want ErrForbiddenAddress", err)
	}
	// A name that resolves to loopback is refused the same way.
	_, err = f.Fetch(t.Context(), strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), 1024)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("https to localhost: err = %v, want ErrForbiddenAddress", err)
	}
	if _, err := f.Fetch(t.Context(), plain.URL, 1024); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("plain http: err = %v, want a scheme error", err)
	}
	if hits != 0 {
		t.Errorf("the servers got %d requests, want none", hits)
	}
}

// TestGuardedDevAllowsLoopback: with Dev the guarded fetcher reaches a
// local server over http, still with the size limit and without redirects.
func TestGuardedDevAllowsLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		w.Write([]byte(`["https://a.example/cb"]`))
	}))
	defer srv.Close()
	f := NewGuarded(Options{Timeout: 5 * time.Second, Dev: true})
	body, err := f.Fetch(t.Context(), srv.URL, 1024)
	if err != nil || string(body) != `["https://a.example/cb"]` {
		t.Fatalf("fetch = %q, %v", body, err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL, 5); err == nil {
		t.Error("a body over the limit was accepted")
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/redirect", 1024); err == nil {
		t.Error("a redirect was followed")
	}
}

func TestPublicAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"8.8.8.8", true}, {"2001:4860:4860::8888", true},
		{"127.0.0.1", false}, {"::1", false}, {"10.1.2.3", false}, {"172.16.0.1", false},
		{"192.168.1.1", false}, {"169.254.169.254", false}, {"fe80::1", false}, {"fd00::1", false},
		{"0.0.0.0", false}, {"::", false}, {"224.0.0.1", false}, {"100.64.0.1", false},
		{"::ffff:127.0.0.1", false}, {"::ffff:10.0.0.1", false},
	} {
		if got := PublicAddr(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("PublicAddr(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}
