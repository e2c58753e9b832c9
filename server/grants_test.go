package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/server"
)

func grantsConfig(t *testing.T, set func(*config.Grants)) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Issuer = "http://127.0.0.1:8080"
	set(&cfg.Grants)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	return cfg
}

// TestSAML2BearerStartUp: a saml2_bearer grant with a trusted issuer's
// certificate file starts and is advertised; a certificate file that holds
// no certificate stops start-up naming the key.
func TestSAML2BearerStartUp(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(t.TempDir(), "idp.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	cfg := grantsConfig(t, func(g *config.Grants) {
		g.SAML2Bearer = config.GrantHandler{Handler: "simple", TrustedIssuers: []config.TrustedIssuer{{Issuer: "https://idp", CertificateFile: cert}}}
	})
	s, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatalf("saml2_bearer refused: %v", err)
	}
	s.Close()
	// The file changes between validation and start-up.
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	if s, err := server.New(t.Context(), cfg, server.Options{}); err == nil {
		s.Close()
		t.Fatal("started with a certificate file that holds no certificate")
	} else if !strings.Contains(err.Error(), "grants.saml2_bearer.trusted_issuers[0].certificate_file") {
		t.Errorf("err = %v", err)
	}
}

// passwordPlugin is a downstream build's password handler.
type passwordPlugin struct{ inited *bool }

func (p passwordPlugin) HandlePassword(context.Context, plugin.PasswordRequest) (*plugin.Authorization, error) {
	return &plugin.Authorization{Subject: "x"}, nil
}

func (p passwordPlugin) Init(context.Context, plugin.Env) error { *p.inited = true; return nil }

func TestGrantHandlerPlugins(t *testing.T) {
	inited := false
	factories := plugin.Factories{
		"ldap-password": func(raw json.RawMessage) (any, error) {
			var c struct{ Server string }
			if err := json.Unmarshal(raw, &c); err != nil || c.Server == "" {
				return nil, err
			}
			return passwordPlugin{inited: &inited}, nil
		},
		"not-a-handler": func(json.RawMessage) (any, error) { return struct{}{}, nil },
	}
	cfg := grantsConfig(t, func(g *config.Grants) {
		g.Password = config.GrantHandler{Handler: "ldap-password", Config: map[string]any{"Server": "ldap://x"}}
	})
	s, err := server.New(t.Context(), cfg, server.Options{Plugins: factories})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if !inited {
		t.Error("the grant handler plug-in was not initialised")
	}
	for name, set := range map[string]func(*config.Grants){
		"is not a password grant handler": func(g *config.Grants) { g.Password = config.GrantHandler{Handler: "not-a-handler"} },
		`unknown handler "kerberos"`:      func(g *config.Grants) { g.Password = config.GrantHandler{Handler: "kerberos"} },
		"config applies to plug-in types": func(g *config.Grants) {
			g.Password = config.GrantHandler{Handler: "users", Config: map[string]any{"x": 1}}
		},
	} {
		s, err := server.New(t.Context(), grantsConfig(t, set), server.Options{Plugins: factories})
		if err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "grants.password.handler") {
			t.Errorf("err = %v, want one naming grants.password.handler and %q", err, name)
		}
	}
}
