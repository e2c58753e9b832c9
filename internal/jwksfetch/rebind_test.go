package jwksfetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rebindingDNS is a DNS server on loopback UDP that answers A queries for
// any name with public first and loopback on every later query (TTL 0),
// as a DNS rebinding attacker's server does; AAAA queries get no answer.
type rebindingDNS struct {
	conn    net.PacketConn
	queries atomic.Int32
	public  net.IP
}

func startRebindingDNS(t *testing.T, public string) *rebindingDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &rebindingDNS{conn: pc, public: net.ParseIP(public).To4()}
	t.Cleanup(func() { pc.Close() })
	go d.serve()
	return d
}

func (d *rebindingDNS) serve() {
	buf := make([]byte, 512)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := d.answer(buf[:n]); resp != nil {
			d.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query (RFC 1035 §4.1).
func (d *rebindingDNS) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	resp := append([]byte{}, q[0:2]...)         // ID
	resp = append(resp, 0x81, 0x80, 0, 1, 0, 0) // response, RD, RA; QDCOUNT 1
	resp = append(resp, 0, 0, 0, 0)             // NSCOUNT, ARCOUNT
	resp = append(resp, question...)
	if qtype != 1 { // not A: no records
		return resp
	}
	binary.BigEndian.PutUint16(resp[6:8], 1) // ANCOUNT
	ip := net.IPv4(127, 0, 0, 1).To4()
	if d.queries.Add(1) == 1 {
		ip = d.public
	}
	resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4) // name ptr, A, IN, TTL 0, RDLENGTH 4
	return append(resp, ip...)
}

func (d *rebindingDNS) resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", addr)
	}}
}

// TestGuardedDNSRebinding: a name that resolved to a public address when
// someone checked it, and to loopback when the fetch connects, is refused
// — the check is on the address dialled, not on an earlier lookup — and
// the loopback server sees no connection.
func TestGuardedDNSRebinding(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	dns := startRebindingDNS(t, "8.8.8.8")
	res := dns.resolver()

	// A validator's lookup sees a public address...
	addrs, err := res.LookupHost(t.Context(), "jwks.rebind.test")
	if err != nil || len(addrs) != 1 || addrs[0] != "8.8.8.8" {
		t.Fatalf("first lookup = %v, %v; want the public address", addrs, err)
	}
	// ...the fetch's own resolution gets loopback and is refused.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	f := NewGuarded(Options{Timeout: 5 * time.Second, Resolver: res, TLS: &tls.Config{RootCAs: pool, ServerName: "example.com"}})
	_, err = f.Fetch(t.Context(), "https://jwks.rebind.test:"+port+"/jwks.json", 1024)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("rebound name: err = %v, want ErrForbiddenAddress", err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the loopback server got %d connections", n)
	}
	if dns.queries.Load() < 2 {
		t.Errorf("the fetch did not resolve the name itself (%d A queries)", dns.queries.Load())
	}
	// The operator's allow-list admits the same name on purpose.
	allowed := NewGuarded(Options{Timeout: 5 * time.Second, Resolver: res, AllowHosts: []string{"jwks.rebind.test"},
		TLS: &tls.Config{RootCAs: pool, ServerName: "example.com"}})
	if body, err := allowed.Fetch(t.Context(), "https://jwks.rebind.test:"+port+"/jwks.json", 1024); err != nil || string(body) != `{"keys":[]}` {
		t.Errorf("allowed name: %q, %v", body, err)
	}
}
