package config

import (
	"strings"
	"testing"
)

func TestValidateSender(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no algs", func(c *Config) { c.DPoP.Algs = nil }, "dpop.algs must name at least one algorithm"},
		{"symmetric alg", func(c *Config) { c.DPoP.Algs = []string{"HS256"} }, `dpop.algs: "HS256" is not an asymmetric JWS algorithm`},
		{"none alg", func(c *Config) { c.DPoP.Algs = []string{"none"} }, `dpop.algs: "none"`},
		{"max_age zero", func(c *Config) { c.DPoP.MaxAge = 0 }, "dpop.max_age must be positive and at most 10m"},
		{"max_age long", func(c *Config) { c.DPoP.MaxAge = 11 * 60e9 }, "dpop.max_age must be positive and at most 10m"},
		{"cert without key", func(c *Config) { c.TLS.Cert = "c.pem" }, "tls.cert and tls.key must be set together"},
		{"client CA without TLS", func(c *Config) { c.TLS.ClientCA = "ca.pem" }, "tls.client_ca needs mutual TLS"},
		{"client CA with header", func(c *Config) {
			c.TLS.ClientCA, c.MTLS.ClientCertHeader, c.TrustedProxies = "ca.pem", "X-Client-Cert", []string{"10.0.0.1"}
		}, ""},
		{"TLS with client CA", func(c *Config) { c.TLS = TLS{Cert: "c.pem", Key: "k.pem", ClientCA: "ca.pem"} }, ""},
		{"header without proxies", func(c *Config) { c.MTLS.ClientCertHeader = "X-Client-Cert" }, "mtls.client_cert_header needs trusted_proxies"},
		{"header with proxies", func(c *Config) {
			c.MTLS.ClientCertHeader, c.TrustedProxies = "X-Client-Cert", []string{"10.0.0.0/8", "192.0.2.1"}
		}, ""},
		{"bad header name", func(c *Config) {
			c.MTLS.ClientCertHeader, c.TrustedProxies = "X Client", []string{"10.0.0.0/8"}
		}, `mtls.client_cert_header "X Client" is not a header name`},
		{"alias without mTLS", func(c *Config) { c.MTLS.EndpointAliasBase = "https://mtls.example.com" }, "mtls.endpoint_alias_base needs mutual TLS"},
		{"alias not https", func(c *Config) {
			c.MTLS.EndpointAliasBase, c.MTLS.ClientCertHeader, c.TrustedProxies = "http://mtls.example.com", "X-Client-Cert", []string{"10.0.0.1"}
		}, "mtls.endpoint_alias_base \"http://mtls.example.com\" must be an https URL"},
		{"bound tokens without mTLS", func(c *Config) { c.MTLS.CertificateBoundAccessTokens = true }, "mtls.certificate_bound_access_tokens needs mutual TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c)
			var got []string
			for _, err := range c.validateSender() {
				got = append(got, err.Error())
			}
			joined := strings.Join(got, "\n")
			if tc.want == "" && joined != "" || tc.want != "" && !strings.Contains(joined, tc.want) {
				t.Fatalf("problems:\n%s\nwant %q", joined, tc.want)
			}
		})
	}
}
