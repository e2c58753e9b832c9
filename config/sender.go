package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/oauth"
)

// DPoP configures DPoP proofs (RFC 9449).
type DPoP struct {
	// Algs are the JWS algorithms accepted for proofs, advertised as
	// dpop_signing_alg_values_supported.
	Algs []string `koanf:"algs"`
	// NonceRequired makes every proof carry a server nonce (§8).
	NonceRequired bool `koanf:"nonce_required"`
	// MaxAge is how old a proof's iat may be.
	MaxAge time.Duration `koanf:"max_age"`
}

// MTLS configures mutual TLS client authentication and certificate-bound
// tokens (RFC 8705).
type MTLS struct {
	// ClientCertHeader names the header in which a TLS-terminating proxy
	// forwards the client certificate (URL-encoded PEM); trusted only from
	// trusted_proxies.
	ClientCertHeader string `koanf:"client_cert_header"`
	// CertificateBoundAccessTokens binds the access tokens of every
	// request made with a client certificate, not only those of clients
	// registered with tls_client_certificate_bound_access_tokens.
	CertificateBoundAccessTokens bool `koanf:"certificate_bound_access_tokens"`
	// EndpointAliasBase is the base URL of the mtls_endpoint_aliases
	// (RFC 8705 §5); empty: the issuer's own endpoints.
	EndpointAliasBase string `koanf:"endpoint_alias_base"`
}

// TLS makes Keyward terminate TLS itself (flags --tls-cert, --tls-key,
// --tls-client-ca).
type TLS struct {
	Cert string `koanf:"cert"`
	Key  string `koanf:"key"`
	// ClientCA is a PEM file of the CAs tls_client_auth certificates must
	// chain to, whether they come from the TLS listener (which requests
	// client certificates but does not require them) or a proxy's header.
	ClientCA string `koanf:"client_ca"`
}

// MTLSEnabled reports whether client certificates can reach the server:
// from its own TLS listener, which always asks for one, or from a trusted
// proxy's header.
func (c *Config) MTLSEnabled() bool {
	return c.TLS.Cert != "" || c.MTLS.ClientCertHeader != ""
}

func (c *Config) validateSender() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.DPoP.Algs) == 0 {
		add("dpop.algs must name at least one algorithm")
	}
	for _, a := range c.DPoP.Algs {
		if !slices.Contains(oauth.AsymmetricAlgs(), a) {
			add("dpop.algs: %q is not an asymmetric JWS algorithm (%s)", a, strings.Join(oauth.AsymmetricAlgs(), ", "))
		}
	}
	if d := c.DPoP.MaxAge; d <= 0 || d > 10*time.Minute {
		add("dpop.max_age must be positive and at most 10m")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		add("tls.cert and tls.key must be set together")
	}
	if c.TLS.ClientCA != "" && !c.MTLSEnabled() {
		add("tls.client_ca needs mutual TLS: tls.cert and tls.key, or mtls.client_cert_header")
	}
	if h := c.MTLS.ClientCertHeader; h != "" {
		if strings.ContainsAny(h, " \t:") {
			add("mtls.client_cert_header %q is not a header name", h)
		}
		if len(c.TrustedProxies) == 0 {
			add("mtls.client_cert_header needs trusted_proxies: the header is only believed from them")
		}
	}
	if b := c.MTLS.EndpointAliasBase; b != "" {
		if u, err := url.Parse(b); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			add("mtls.endpoint_alias_base %q must be an https URL without query or fragment", b)
		}
		if !c.MTLSEnabled() {
			add("mtls.endpoint_alias_base needs mutual TLS: tls.cert or mtls.client_cert_header")
		}
	}
	if c.MTLS.CertificateBoundAccessTokens && !c.MTLSEnabled() {
		add("mtls.certificate_bound_access_tokens needs mutual TLS: tls.cert or mtls.client_cert_header")
	}
	return errs
}
