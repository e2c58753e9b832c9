package server

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/mtls"
	"github.com/keyward/keyward/internal/testcerts"
)

// TestTLSListenerClientCertificates: with tls.cert Keyward terminates TLS
// and asks for a client certificate without requiring one; the
// certificate reaches the extractor, and a client without one is served.
func TestTLSListenerClientCertificates(t *testing.T) {
	dir := t.TempDir()
	serverCA := testcerts.CA(t, "server CA")
	srvCert := testcerts.Issue(t, serverCA, testcerts.Template{Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := config.Default()
	cfg.TLS.Cert, cfg.TLS.Key = write("cert.pem", srvCert.PEM()), write("key.pem", srvCert.KeyPEM(t))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln, err := tlsListener(cfg, ln)
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := clientaddr.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		t.Fatal(err)
	}
	ex := certExtractor(cfg, proxies)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := ex.Certificate(r)
		switch {
		case err != nil:
			http.Error(w, err.Error(), 400)
		case c == nil:
			io.WriteString(w, "none")
		default:
			io.WriteString(w, mtls.Thumbprint(c))
		}
	})}
	go srv.Serve(tln)
	t.Cleanup(func() { srv.Close() })

	get := func(certs ...tls.Certificate) string {
		t.Helper()
		roots := x509.NewCertPool()
		roots.AddCert(serverCA.Cert)
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	client := testcerts.Issue(t, nil, testcerts.Template{Subject: pkix.Name{CommonName: "self-signed client"}})
	if got := get(client.TLS()); got != mtls.Thumbprint(client.Cert) {
		t.Errorf("with a client certificate: %q, want its thumbprint", got)
	}
	if got := get(); got != "none" {
		t.Errorf("without a client certificate: %q, want none", got)
	}

	// A missing key file stops the start with the key named.
	bad := cfg
	bad.TLS.Key = filepath.Join(dir, "missing.pem")
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l2.Close()
	if _, err := tlsListener(bad, l2); err == nil {
		t.Error("tlsListener with a missing key succeeded")
	}
}
