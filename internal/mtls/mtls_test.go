package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/mtls"
	"github.com/keyward/keyward/internal/testcerts"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func TestExtractor(t *testing.T) {
	cert := testcerts.Issue(t, nil, testcerts.Template{Subject: pkix.Name{CommonName: "rp"}})
	other := testcerts.Issue(t, nil, testcerts.Template{Subject: pkix.Name{CommonName: "other"}})
	trusted := false
	e := &mtls.Extractor{Header: "X-Client-Cert", TrustedProxy: func(*http.Request) bool { return trusted }}
	req := func(header string) *http.Request {
		r := httptest.NewRequest("POST", "/token", nil)
		if header != "" {
			r.Header.Set("X-Client-Cert", header)
		}
		return r
	}
	escaped := url.QueryEscape(string(cert.PEM()))

	// From an untrusted sender the header is ignored.
	if got, err := e.Certificate(req(escaped)); got != nil || err != nil {
		t.Fatalf("untrusted header: %v, %v", got, err)
	}
	trusted = true
	got, err := e.Certificate(req(escaped))
	if err != nil || got == nil || !got.Equal(cert.Cert) {
		t.Fatalf("trusted header: %v, %v", got, err)
	}
	if got, err := e.Certificate(req("")); got != nil || err != nil {
		t.Fatalf("no header: %v, %v", got, err)
	}
	for name, h := range map[string]string{
		"not PEM":     "hello",
		"bad escape":  "%zz",
		"bad DER":     url.QueryEscape("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"too long":    strings.Repeat("a", 20000),
		"private key": url.QueryEscape(string(cert.KeyPEM(t))),
	} {
		if _, err := e.Certificate(req(h)); !errors.Is(err, mtls.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// The TLS connection's certificate wins over any header.
	r := req(escaped)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{other.Cert}}
	if got, _ := e.Certificate(r); !got.Equal(other.Cert) {
		t.Fatalf("TLS certificate not preferred")
	}
	if mtls.Thumbprint(cert.Cert) == mtls.Thumbprint(other.Cert) || len(mtls.Thumbprint(cert.Cert)) != 43 {
		t.Fatalf("thumbprint %q", mtls.Thumbprint(cert.Cert))
	}
}

func TestVerifyClientCert(t *testing.T) {
	ca := testcerts.CA(t, "Test CA")
	otherCA := testcerts.CA(t, "Other CA")
	good := testcerts.Issue(t, ca, testcerts.Template{
		Subject: pkix.Name{CommonName: "rp", Organization: []string{"Example"}},
		DNS:     []string{"rp.example.com"}, IPs: []net.IP{net.ParseIP("192.0.2.7")},
		URIs: []string{"https://rp.example.com/id"}, Emails: []string{"rp@example.com"},
	})
	foreign := testcerts.Issue(t, otherCA, testcerts.Template{Subject: pkix.Name{CommonName: "rp", Organization: []string{"Example"}}})
	server := testcerts.Issue(t, ca, testcerts.Template{Subject: pkix.Name{CommonName: "rp", Organization: []string{"Example"}}, Server: true})
	self := testcerts.Issue(t, nil, testcerts.Template{Subject: pkix.Name{CommonName: "self"}})
	v := &mtls.Verifier{Roots: ca.Pool()}
	pki := func(md store.ClientMetadata) *store.Client {
		md.TokenEndpointAuthMethod = oauth.AuthMethodTLSClientAuth
		return &store.Client{ID: "rp", Metadata: md}
	}
	jwks, err := json.Marshal(gojose.JSONWebKeySet{Keys: []gojose.JSONWebKey{{Key: self.Key.Public(), KeyID: "k", Algorithm: "ES256"}}})
	if err != nil {
		t.Fatal(err)
	}
	selfClient := &store.Client{ID: "self", Metadata: store.ClientMetadata{
		TokenEndpointAuthMethod: oauth.AuthMethodSelfSignedTLSClientAuth, JWKS: jwks}}

	for _, tc := range []struct {
		name   string
		cert   *x509.Certificate
		client *store.Client
		method string
		ok     bool
	}{
		{"subject DN", good.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=rp,O=Example"}), oauth.AuthMethodTLSClientAuth, true},
		{"subject DN spacing", good.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "cn=rp, o=Example"}), oauth.AuthMethodTLSClientAuth, true},
		{"other subject DN", good.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=other,O=Example"}), oauth.AuthMethodTLSClientAuth, false},
		{"SAN DNS", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANDNS: "RP.example.com"}), oauth.AuthMethodTLSClientAuth, true},
		{"other SAN DNS", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANDNS: "evil.example.com"}), oauth.AuthMethodTLSClientAuth, false},
		{"SAN URI", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANURI: "https://rp.example.com/id"}), oauth.AuthMethodTLSClientAuth, true},
		{"SAN IP", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANIP: "192.0.2.7"}), oauth.AuthMethodTLSClientAuth, true},
		{"other SAN IP", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANIP: "192.0.2.8"}), oauth.AuthMethodTLSClientAuth, false},
		{"SAN email", good.Cert, pki(store.ClientMetadata{TLSClientAuthSANEmail: "rp@example.com"}), oauth.AuthMethodTLSClientAuth, true},
		{"no name registered", good.Cert, pki(store.ClientMetadata{}), oauth.AuthMethodTLSClientAuth, false},
		{"other CA", foreign.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=rp,O=Example"}), oauth.AuthMethodTLSClientAuth, false},
		{"server certificate", server.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=rp,O=Example"}), oauth.AuthMethodTLSClientAuth, false},
		{"self-signed for PKI client", self.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=self"}), oauth.AuthMethodTLSClientAuth, false},
		{"self-signed registered key", self.Cert, selfClient, oauth.AuthMethodSelfSignedTLSClientAuth, true},
		{"self-signed other key", good.Cert, selfClient, oauth.AuthMethodSelfSignedTLSClientAuth, false},
		{"no certificate", nil, selfClient, oauth.AuthMethodSelfSignedTLSClientAuth, false},
		{"not an mTLS method", self.Cert, selfClient, oauth.AuthMethodNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.VerifyClientCert(t.Context(), tc.cert, tc.client, tc.method)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if err := (&mtls.Verifier{}).VerifyClientCert(t.Context(), good.Cert, pki(store.ClientMetadata{TLSClientAuthSubjectDN: "CN=rp,O=Example"}), oauth.AuthMethodTLSClientAuth); err == nil {
		t.Fatal("tls_client_auth without a CA accepted")
	}
}
