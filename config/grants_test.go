package config_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
)

// writeCert writes a self-signed certificate as PEM and returns its path.
func writeCert(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGrantsDefaultsAndEnvironment(t *testing.T) {
	cfg, err := config.Load(config.Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Grants.ClientCredentials.Handler != "simple" || cfg.Grants.Password.Enabled() || cfg.Grants.JWTBearer.Enabled() || cfg.Grants.SAML2Bearer.Enabled() {
		t.Errorf("default grants %+v", cfg.Grants)
	}
	cfg, err = config.Load(config.Sources{Environ: []string{
		"KEYWARD_GRANTS_PASSWORD_HANDLER=users",
		"KEYWARD_GRANTS_CLIENT_CREDENTIALS_HANDLER=",
		"KEYWARD_GRANTS_JWT_BEARER_HANDLER=webhook",
		"KEYWARD_GRANTS_JWT_BEARER_URL=https://hooks.example.com/jwt",
		"KEYWARD_GRANTS_JWT_BEARER_TOKEN=t0ken",
		"KEYWARD_GRANTS_JWT_BEARER_TIMEOUT=2s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Grants
	if g.Password.Handler != "users" || g.ClientCredentials.Enabled() || g.JWTBearer.URL != "https://hooks.example.com/jwt" ||
		g.JWTBearer.Token != "t0ken" || g.JWTBearer.Timeout != 2*time.Second {
		t.Errorf("grants from the environment: %+v", g)
	}
}

func TestGrantsFile(t *testing.T) {
	dir := t.TempDir()
	jwks := filepath.Join(dir, "sts.json")
	os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o600)
	cert := writeCert(t)
	file := filepath.Join(dir, "keyward.yaml")
	os.WriteFile(file, []byte(`
grants:
  client_credentials: { handler: simple, audience: [https://api.example.com], access_token_lifetime: 2m, access_token_encoding: IDENTIFIER }
  jwt_bearer:
    handler: simple
    trusted_issuers:
      - issuer: https://sts.example.org
        jwks_uri: https://sts.example.org/jwks.json
      - issuer: https://sts2.example.org
        jwks_file: `+jwks+`
  saml2_bearer:
    handler: simple
    trusted_issuers:
      - issuer: https://idp.example.org
        certificate_file: `+cert+`
`), 0o600)
	cfg, err := config.Load(config.Sources{File: file})
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Grants
	if g.ClientCredentials.AccessTokenEncoding != "IDENTIFIER" || g.ClientCredentials.AccessTokenLifetime != 2*time.Minute ||
		len(g.JWTBearer.TrustedIssuers) != 2 || g.JWTBearer.TrustedIssuers[1].JWKSFile != jwks ||
		g.SAML2Bearer.TrustedIssuers[0].CertificateFile != cert {
		t.Errorf("grants from the file: %+v", g)
	}
	if certs, err := config.ReadCertificates(cert); err != nil || len(certs) != 1 {
		t.Errorf("ReadCertificates: %v %v", certs, err)
	}
}

func TestGrantsValidation(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	cert := writeCert(t)
	tests := []struct {
		name string
		set  func(*config.Grants)
		want string
	}{
		{"webhook without url", func(g *config.Grants) { g.Password = config.GrantHandler{Handler: "webhook"} }, "grants.password.url"},
		{"bad encoding", func(g *config.Grants) { g.ClientCredentials.AccessTokenEncoding = "JWE" }, "grants.client_credentials.access_token_encoding"},
		{"negative lifetime", func(g *config.Grants) { g.ClientCredentials.AccessTokenLifetime = -time.Second }, "access_token_lifetime must not be negative"},
		{"url on simple", func(g *config.Grants) { g.ClientCredentials.URL = "https://x" }, "apply to the webhook handler only"},
		{"issuers on client credentials", func(g *config.Grants) {
			g.ClientCredentials.TrustedIssuers = []config.TrustedIssuer{{Issuer: "x", JWKSURI: "https://x"}}
		}, "trusted_issuers applies to jwt_bearer and saml2_bearer only"},
		{"issuer twice", func(g *config.Grants) {
			g.JWTBearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", JWKSURI: "https://x/1"}, {Issuer: "x", JWKSURI: "https://x/2"}}}
		}, "listed twice"},
		{"both keys", func(g *config.Grants) {
			g.JWTBearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", JWKSURI: "https://x/1", JWKSFile: "/etc/x"}}}
		}, "exactly one of jwks_uri and jwks_file"},
		{"http jwks_uri", func(g *config.Grants) {
			g.JWTBearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", JWKSURI: "http://sts.example.org/"}}}
		}, "must be an https URL"},
		{"missing jwks_file", func(g *config.Grants) {
			g.JWTBearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", JWKSFile: "/nonexistent/x.json"}}}
		}, "jwks_file"},
		{"certificate on jwt", func(g *config.Grants) {
			g.JWTBearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", JWKSURI: "https://x", CertificateFile: cert}}}
		}, "not certificate_file"},
		{"saml without certificate", func(g *config.Grants) {
			g.SAML2Bearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x"}}}
		}, "certificate_file is required"},
		{"saml certificate not PEM", func(g *config.Grants) {
			g.SAML2Bearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", CertificateFile: notPEM}}}
		}, "no PEM certificate"},
		{"saml jwks", func(g *config.Grants) {
			g.SAML2Bearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "x", CertificateFile: cert, JWKSURI: "https://x"}}}
		}, "takes certificate_file, not jwks_uri"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			tc.set(&cfg.Grants)
			errs := cfg.Validate()
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("errors %q, want one containing %q", all, tc.want)
			}
		})
	}
}

func TestParseCertificates(t *testing.T) {
	one, err := os.ReadFile(writeCert(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(writeCert(t))
	if err != nil {
		t.Fatal(err)
	}
	two := append(append([]byte("subject=CN = idp\n"), one...), other...)
	certs, err := config.ParseCertificates(two)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || bytes.Equal(certs[0].Raw, certs[1].Raw) {
		t.Errorf("got %d certificates, want the two in order", len(certs))
	}
	keyPEM := []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	for name, in := range map[string][]byte{
		"empty":            nil,
		"not PEM":          []byte("hello"),
		"private key":      append(slices.Clone(one), keyPEM...),
		"trailing garbage": append(slices.Clone(one), "-----BEGIN CERTIFICATE-----\nMIIB"...),
		"bad DER":          []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	} {
		if _, err := config.ParseCertificates(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
