package jwksfetch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tlsServer starts a loopback HTTPS server and returns it with a pool
// trusting its certificate.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, pool
}

// TestGuardedAllowCIDRs: a loopback server is refused until the operator
// allows its range; then every other bound still holds (https only, no
// redirect, size, time).
func TestGuardedAllowCIDRs(t *testing.T) {
	var hits atomic.Int32
	srv, pool := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/", http.StatusFound)
		case "/slow":
			time.Sleep(600 * time.Millisecond)
			w.Write([]byte(`{}`))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2048)))
		default:
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	tlsConf := &tls.Config{RootCAs: pool}

	refused := NewGuarded(Options{Timeout: 300 * time.Millisecond, TLS: tlsConf,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if _, err := refused.Fetch(t.Context(), srv.URL, 1024); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("loopback with another range allowed: err = %v, want ErrForbiddenAddress", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests before it was allowed", n)
	}

	f := NewGuarded(Options{Timeout: 300 * time.Millisecond, TLS: tlsConf,
		AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	body, err := f.Fetch(t.Context(), srv.URL, 1024)
	if err != nil || string(body) != `{"keys":[]}` {
		t.Fatalf("allowed loopback: %q, %v", body, err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/redirect", 1024); err == nil || !strings.Contains(err.Error(), "redirect refused") {
		t.Errorf("redirect: err = %v, want a refused redirect", err)
	}
	if _, err := f.Fetch(t.Context(), srv.URL+"/big", 1024); err == nil || !strings.Contains(err.Error(), "larger than 1024") {
		t.Errorf("oversized body: err = %v, want a size error", err)
	}
	// The slow answer would arrive, complete, after 600 ms: only the
	// 300 ms bound makes this fetch fail.
	if _, err := f.Fetch(t.Context(), srv.URL+"/slow", 1024); err == nil {
		t.Error("a fetch slower than the timeout succeeded")
	}
	plain := strings.Replace(srv.URL, "https://", "http://", 1)
	if _, err := f.Fetch(t.Context(), plain, 1024); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("plain http to an allowed range: err = %v, want a scheme error", err)
	}
	for _, bad := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1/"} {
		if _, err := f.Fetch(t.Context(), bad, 1024); err == nil || !strings.Contains(err.Error(), "scheme") {
			t.Errorf("%s: err = %v, want a scheme error", bad, err)
		}
	}
}

// TestGuardedAllowHosts: an allowed host name is reached although it
// resolves (through the system resolver) to loopback; other names that
// resolve there stay refused.
func TestGuardedAllowHosts(t *testing.T) {
	srv, pool := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`ok`))
	}))
	// The test certificate names example.com; the name dialled is localhost.
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "example.com"}
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	f := NewGuarded(Options{Timeout: 5 * time.Second, TLS: tlsConf, AllowHosts: []string{"LocalHost"}})
	if body, err := f.Fetch(t.Context(), url, 1024); err != nil || string(body) != "ok" {
		t.Fatalf("allowed host: %q, %v", body, err)
	}
	// The address itself is not allowed: only the name is.
	if _, err := f.Fetch(t.Context(), srv.URL, 1024); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("the address of an allowed name: err = %v, want ErrForbiddenAddress", err)
	}
	other := NewGuarded(Options{Timeout: 5 * time.Second, TLS: tlsConf, AllowHosts: []string{"keys.example.org"}})
	if _, err := other.Fetch(t.Context(), url, 1024); !errors.Is(err, ErrForbiddenAddress) {
		t.Errorf("a name not allowed: err = %v, want ErrForbiddenAddress", err)
	}
}

// TestGuardedTransport: requests sent through Transport (back-channel
// logout POSTs) are under the same guard.
func TestGuardedTransport(t *testing.T) {
	var hits atomic.Int32
	srv, pool := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	f := NewGuarded(Options{Timeout: 5 * time.Second, TLS: &tls.Config{RootCAs: pool}})
	hc := &http.Client{Transport: f.Transport()}
	resp, err := hc.Post(srv.URL, "application/x-www-form-urlencoded", strings.NewReader("logout_token=x"))
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, ErrForbiddenAddress) || hits.Load() != 0 {
		t.Errorf("POST to loopback: err = %v, hits %d; want ErrForbiddenAddress and none", err, hits.Load())
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer plain.Close()
	open := NewGuarded(Options{Timeout: 5 * time.Second, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	resp, err = (&http.Client{Transport: open.Transport()}).Post(plain.URL, "text/plain", strings.NewReader("x"))
	if err == nil {
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "scheme") || hits.Load() != 0 {
		t.Errorf("plain http POST to an allowed range: err = %v, hits %d; want a scheme error and none", err, hits.Load())
	}
}

// TestPublicAddrMetadata: the cloud metadata services and the special
// ranges that can hide an internal IPv4 address are not public.
func TestPublicAddrMetadata(t *testing.T) {
	for _, a := range []string{"169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.1.2.3",
		"192.0.0.170", "198.18.0.1", "255.255.255.255", "240.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
		"ff02::1", "::ffff:169.254.169.254"} {
		if PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = true", a)
		}
	}
}

// TestGuardedRefusesInternalAddresses: the metadata service and private
// ranges are refused in the dialer's Control, which runs before the
// connection is attempted, so the test needs no such network.
func TestGuardedRefusesInternalAddresses(t *testing.T) {
	f := NewGuarded(Options{Timeout: 2 * time.Second})
	for _, host := range []string{"169.254.169.254", "10.0.0.1", "192.168.0.1", "172.31.255.254", "100.100.100.200", "0.0.0.0"} {
		_, err := f.Fetch(t.Context(), "https://"+host+"/latest/meta-data/", 1024)
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("%s: err = %v, want ErrForbiddenAddress", host, err)
		}
	}
}
