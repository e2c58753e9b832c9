package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestResolve(t *testing.T) {
	r, err := ParseTrusted([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote string
		header       http.Header
		want         string
	}{
		{"untrusted peer ignores XFF", "203.0.113.9:5555", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.9"},
		{"trusted peer, one hop", "10.1.2.3:1", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"a client's Forwarded is not read", "10.1.2.3:1", http.Header{"Forwarded": {"for=198.51.100.9"}, "X-Forwarded-For": {"198.51.100.4"}}, "198.51.100.4"},
		{"forged left entries are skipped", "10.1.2.3:1", http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"several header lines", "10.1.2.3:1", http.Header{"X-Forwarded-For": {"1.1.1.1", "198.51.100.1"}}, "198.51.100.1"},
		{"single trusted IP", "192.0.2.7:1", http.Header{"X-Forwarded-For": {"198.51.100.2"}}, "198.51.100.2"},
		{"all hops trusted", "10.1.2.3:1", http.Header{"X-Forwarded-For": {"10.0.0.5"}}, "10.0.0.5"},
		{"no header", "10.1.2.3:1", nil, "10.1.2.3"},
		{"ipv4-mapped peer", "[::ffff:10.1.2.3]:1", http.Header{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = c.remote
			req.Header = c.header
			if req.Header == nil {
				req.Header = http.Header{}
			}
			if got := r.Resolve(req); got != netip.MustParseAddr(c.want) {
				t.Errorf("Resolve = %v, want %s", got, c.want)
			}
		})
	}
}

func TestForwardedHeader(t *testing.T) {
	r, _ := ParseTrusted([]string{"10.0.0.0/8"})
	if err := r.SetHeader("forwarded"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"port and quotes", http.Header{"Forwarded": {`for="[2001:db9::5]:4711";proto=https, for=10.0.0.2`}}, "2001:db9::5"},
		{"X-Forwarded-For is not read", http.Header{"Forwarded": {"for=198.51.100.3"}, "X-Forwarded-For": {"198.51.100.4"}}, "198.51.100.3"},
		{"obfuscated hop stops the walk", http.Header{"Forwarded": {"for=198.51.100.3, for=_hidden"}}, "10.1.2.3"},
		{"forged left hop skipped", http.Header{"Forwarded": {"for=1.1.1.1", "for=198.51.100.7;by=10.0.0.1"}}, "198.51.100.7"},
		{"no header", nil, "10.1.2.3"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.1.2.3:1"
		if c.header != nil {
			req.Header = c.header
		}
		if got := r.Resolve(req); got != netip.MustParseAddr(c.want) {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
	if err := r.SetHeader("X-Real-IP"); err == nil {
		t.Error("an unknown header was accepted")
	}
}

func TestNoTrustedProxies(t *testing.T) {
	var r *Resolver
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	if got := r.Resolve(req); got != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("nil resolver: %v", got)
	}
	if r.FromTrustedProxy(req) {
		t.Error("nil resolver trusts a proxy")
	}
}

func TestParseTrustedRefusesGarbage(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", ""} {
		if _, err := ParseTrusted([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHandlerAndFromTrustedProxy(t *testing.T) {
	r, _ := ParseTrusted([]string{"127.0.0.1"})
	var got netip.Addr
	h := r.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { got = From(req.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "127.0.0.1:9"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got != netip.MustParseAddr("198.51.100.1") || !r.FromTrustedProxy(req) {
		t.Errorf("From = %v", got)
	}
	req.RemoteAddr = "in-process"
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.IsValid() || r.FromTrustedProxy(req) {
		t.Errorf("in-process request got address %v", got)
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.1":         "198.51.100.1",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"::1":                  "::/64",
	} {
		if got := Key(netip.MustParseAddr(in)); got != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
	if Key(netip.Addr{}) != "unknown" {
		t.Error("zero Addr")
	}
}
