package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/mtls"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
)

// Sender-constrained tokens: DPoP (RFC 9449) and mutual TLS (RFC 8705),
// docs/api.md §20.

// dpopVerifier checks DPoP proofs with the configured algorithms; the
// replay cache makes each proof single use across the cluster.
func (s *Server) dpopVerifier(sealer *secret.Sealer, replay store.ReplayCache) *dpop.Verifier {
	return &dpop.Verifier{
		Algs: s.cfg.DPoP.Algs, Replay: replay, NonceRequired: s.cfg.DPoP.NonceRequired,
		Sealer: sealer, MaxAge: s.cfg.DPoP.MaxAge, Now: s.now,
	}
}

// certVerifier checks client certificates; the client CA file is read
// once at start.
func certVerifier(cfg config.Config) (*mtls.Verifier, error) {
	v := &mtls.Verifier{}
	if cfg.TLS.ClientCA == "" {
		return v, nil
	}
	pool, err := loadCertPool(cfg.TLS.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("tls.client_ca: %w", err)
	}
	v.Roots = pool
	return v, nil
}

func loadCertPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// certExtractor reads client certificates from the TLS connection and,
// from trusted proxies only (the connection's peer, never a forwarded
// address), from mtls.client_cert_header.
func certExtractor(cfg config.Config, proxies *clientaddr.Resolver) *mtls.Extractor {
	return &mtls.Extractor{Header: cfg.MTLS.ClientCertHeader, TrustedProxy: proxies.FromTrustedProxy}
}

// senderMetadata adds what discovery says about sender-constrained
// tokens: the DPoP algorithms always; with mutual TLS, certificate-bound
// tokens and the endpoint aliases (RFC 8705 §5), under
// mtls.endpoint_alias_base or the issuer itself.
func senderMetadata(cfg config.Config, m *httpapi.ProviderMetadata) {
	m.DPoPSigningAlgValuesSupported = append([]string(nil), cfg.DPoP.Algs...)
	if !cfg.MTLSEnabled() {
		return
	}
	m.TLSClientCertificateBoundAccessTokens = true
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	base := strings.TrimSuffix(cfg.MTLS.EndpointAliasBase, "/")
	if base == "" {
		base = issuer
	}
	alias := func(u string) string { return base + strings.TrimPrefix(u, issuer) }
	m.MTLSEndpointAliases = map[string]string{
		"token_endpoint":                        alias(m.TokenEndpoint),
		"pushed_authorization_request_endpoint": alias(m.PushedAuthorizationRequestEndpoint),
		"userinfo_endpoint":                     alias(m.UserInfoEndpoint),
		"introspection_endpoint":                alias(m.IntrospectionEndpoint),
		"revocation_endpoint":                   alias(m.RevocationEndpoint),
	}
}

// tlsListener wraps ln in TLS when tls.cert is set. Client certificates
// are requested but neither required nor verified here: a
// self_signed_tls_client_auth certificate chains to nothing, so the
// token core verifies each against the client's registration
// (internal/mtls) instead.
func tlsListener(cfg config.Config, ln net.Listener) (net.Listener, error) {
	if cfg.TLS.Cert == "" {
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("tls.cert / tls.key: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequestClientCert,
		MinVersion:   tls.VersionTLS12,
	}), nil
}
