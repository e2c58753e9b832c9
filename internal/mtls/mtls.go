// Package mtls is mutual TLS client authentication and certificate-bound
// tokens (RFC 8705): it finds a request's client certificate — from
// Keyward's own TLS listener or, behind a TLS-terminating proxy, from a
// header the proxy sets — and checks it against a client's registration.
package mtls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Methods are the client authentication methods of RFC 8705 §2, for
// token_endpoint_auth_methods_supported and client registration.
var Methods = []string{oauth.AuthMethodTLSClientAuth, oauth.AuthMethodSelfSignedTLSClientAuth}

// maxHeaderLen bounds the certificate header: a PEM certificate with a
// 4096-bit RSA key and a few extensions is under 3 KiB, URL-encoded under
// 5 KiB.
const maxHeaderLen = 16 << 10

// ErrMalformed marks a certificate header that cannot be read.
var ErrMalformed = errors.New("mtls: malformed client certificate header")

// Extractor finds the client certificate of a request. The zero value
// reads only the TLS connection.
type Extractor struct {
	// Header names the request header in which a TLS-terminating proxy
	// forwards the client certificate as URL-encoded PEM (as nginx's
	// $ssl_client_escaped_cert); empty: none.
	Header string
	// TrustedProxy reports whether the request came from a proxy allowed
	// to set Header; the header of any other sender is ignored, so that a
	// client cannot claim a certificate it does not hold.
	TrustedProxy func(*http.Request) bool
}

// Certificate returns the client certificate of r, nil when there is
// none, or an error wrapping ErrMalformed for a trusted header that does
// not hold one certificate. A certificate from the TLS connection wins:
// Keyward terminated TLS itself, so no proxy is involved.
func (e *Extractor) Certificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], nil
	}
	if e == nil || e.Header == "" || e.TrustedProxy == nil {
		return nil, nil
	}
	vs := r.Header.Values(e.Header)
	if len(vs) == 0 || (len(vs) == 1 && vs[0] == "") {
		return nil, nil
	}
	if !e.TrustedProxy(r) {
		return nil, nil
	}
	if len(vs) > 1 {
		return nil, fmt.Errorf("%w: repeated", ErrMalformed)
	}
	return ParseHeader(vs[0])
}

// ParseHeader reads a URL-encoded PEM certificate.
func ParseHeader(v string) (*x509.Certificate, error) {
	if len(v) > maxHeaderLen {
		return nil, fmt.Errorf("%w: too long", ErrMalformed)
	}
	raw, err := url.QueryUnescape(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	block, _ := pem.Decode([]byte(raw))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrMalformed)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return cert, nil
}

// Thumbprint is the certificate's "x5t#S256" (RFC 8705 §3.1): the
// base64url SHA-256 of its DER.
func Thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Verifier checks a client certificate against a client's registration.
type Verifier struct {
	// Roots are the CAs a tls_client_auth certificate must chain to
	// (--tls-client-ca). Without them tls_client_auth is refused.
	Roots *x509.CertPool
}

// VerifyClientCert checks cert for client, which registered method: for
// tls_client_auth, a chain to Roots with client-auth usage and the one
// subject DN or SAN the client registered (RFC 8705 §2.1.2); for
// self_signed_tls_client_auth, a public key among the client's registered
// jwks (§2.2.2). The error says why, for the log only.
func (v *Verifier) VerifyClientCert(_ context.Context, cert *x509.Certificate, client *store.Client, method string) error {
	if cert == nil {
		return errors.New("no client certificate")
	}
	switch method {
	case oauth.AuthMethodTLSClientAuth:
		if v.Roots == nil {
			return errors.New("no client CA configured for tls_client_auth")
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: v.Roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return fmt.Errorf("certificate chain: %w", err)
		}
		return matchName(cert, &client.Metadata)
	case oauth.AuthMethodSelfSignedTLSClientAuth:
		return matchKey(cert, client.Metadata.JWKS)
	}
	return fmt.Errorf("method %s is not mutual TLS", method)
}

// matchName compares the registered name with the certificate's (RFC 8705
// §2.1.2): the subject DN in RFC 4514 form, or one SAN entry.
func matchName(cert *x509.Certificate, md *store.ClientMetadata) error {
	switch {
	case md.TLSClientAuthSubjectDN != "":
		if !sameDN(cert.Subject.String(), md.TLSClientAuthSubjectDN) {
			return fmt.Errorf("subject %q is not the registered %q", cert.Subject.String(), md.TLSClientAuthSubjectDN)
		}
	case md.TLSClientAuthSANDNS != "":
		if !slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, md.TLSClientAuthSANDNS) }) {
			return errors.New("no matching dNSName SAN")
		}
	case md.TLSClientAuthSANURI != "":
		if !slices.ContainsFunc(cert.URIs, func(u *url.URL) bool { return u.String() == md.TLSClientAuthSANURI }) {
			return errors.New("no matching uniformResourceIdentifier SAN")
		}
	case md.TLSClientAuthSANIP != "":
		want := net.ParseIP(md.TLSClientAuthSANIP)
		if want == nil || !slices.ContainsFunc(cert.IPAddresses, want.Equal) {
			return errors.New("no matching iPAddress SAN")
		}
	case md.TLSClientAuthSANEmail != "":
		if !slices.Contains(cert.EmailAddresses, md.TLSClientAuthSANEmail) {
			return errors.New("no matching rfc822Name SAN")
		}
	default:
		return errors.New("no subject DN or SAN registered")
	}
	return nil
}

// sameDN compares two RFC 4514 distinguished names attribute by
// attribute, ignoring case of the attribute types and spaces around
// separators (a practical subset of RFC 4517's distinguishedNameMatch).
func sameDN(a, b string) bool {
	norm := func(s string) []string {
		parts := strings.Split(s, ",")
		for i, p := range parts {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			parts[i] = strings.ToUpper(strings.TrimSpace(k)) + "=" + strings.TrimSpace(v)
		}
		return parts
	}
	return slices.Equal(norm(a), norm(b))
}

// matchKey finds the certificate's public key among the registered jwks.
func matchKey(cert *x509.Certificate, jwks []byte) error {
	if len(jwks) == 0 {
		return errors.New("no jwks registered")
	}
	set, err := jose.ParseJWKS(jwks)
	if err != nil {
		return fmt.Errorf("registered jwks: %w", err)
	}
	want, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		return fmt.Errorf("certificate key: %w", err)
	}
	for _, k := range set.Keys {
		got, err := x509.MarshalPKIXPublicKey(k.Key)
		if err == nil && bytes.Equal(got, want) {
			return nil
		}
	}
	return errors.New("certificate key is not among the registered jwks")
}
