package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
)

// validate checks the grants.* keys. Handler types other than the
// built-in ones may come from a downstream build's plug-ins; the server
// refuses a type it has no factory for.
func (g Grants) validate(dev bool) []error {
	var errs []error
	for _, k := range []struct {
		path     string
		h        GrantHandler
		builtIn  string
		issuers  bool
		certFile bool
	}{
		{"grants.client_credentials", g.ClientCredentials, "simple", false, false},
		{"grants.password", g.Password, "users", false, false},
		{"grants.jwt_bearer", g.JWTBearer, "simple", true, false},
		{"grants.saml2_bearer", g.SAML2Bearer, "simple", true, true},
	} {
		errs = append(errs, k.h.validate(k.path, k.builtIn, k.issuers, k.certFile, dev)...)
	}
	return errs
}

func (h GrantHandler) validate(path, builtIn string, issuers, saml, dev bool) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(path+"."+format, args...)) }
	// The password grant's ldap handler is the users handler over an LDAP
	// directory: the same token keys apply.
	if path == "grants.password" && h.Handler == "ldap" {
		builtIn = "ldap"
	}
	switch h.Handler {
	case "":
		return nil
	case builtIn:
		switch h.AccessTokenEncoding {
		case "", "SELF_CONTAINED", "IDENTIFIER":
		default:
			add("access_token_encoding %q must be SELF_CONTAINED or IDENTIFIER", h.AccessTokenEncoding)
		}
		if h.AccessTokenLifetime < 0 {
			add("access_token_lifetime must not be negative (0: tokens.access_token_lifetime)")
		}
		if slices.Contains(h.Audience, "") {
			add("audience must not contain an empty value")
		}
	case "webhook":
		if u, err := url.Parse(h.URL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			add("url %q must be an http(s) URL", h.URL)
		}
		if h.Timeout < 0 {
			add("timeout must not be negative")
		}
	}
	if h.Handler != builtIn && (len(h.Audience) > 0 || h.AccessTokenLifetime != 0 || h.AccessTokenEncoding != "") {
		add("audience, access_token_lifetime and access_token_encoding apply to the %s handler only; a %s handler decides them", builtIn, h.Handler)
	}
	if h.Handler != "webhook" && (h.URL != "" || h.Token != "" || h.HMACSecret != "" || h.Timeout != 0) {
		add("url, token, hmac_secret and timeout apply to the webhook handler only")
	}
	if !issuers && len(h.TrustedIssuers) > 0 {
		add("trusted_issuers applies to jwt_bearer and saml2_bearer only")
	}
	seen := map[string]bool{}
	for i, ti := range h.TrustedIssuers {
		at := fmt.Sprintf("trusted_issuers[%d]", i)
		if ti.Issuer == "" {
			add("%s.issuer is required", at)
		} else if seen[ti.Issuer] {
			add("%s.issuer %q is listed twice", at, ti.Issuer)
		}
		seen[ti.Issuer] = true
		if saml {
			if ti.JWKSURI != "" || ti.JWKSFile != "" {
				add("%s: a SAML issuer takes certificate_file, not jwks_uri or jwks_file", at)
			}
			if ti.CertificateFile == "" {
				add("%s.certificate_file is required", at)
			} else if _, err := ReadCertificates(ti.CertificateFile); err != nil {
				add("%s.certificate_file: %v", at, err)
			}
			continue
		}
		if ti.CertificateFile != "" {
			add("%s: a JWT issuer takes jwks_uri or jwks_file, not certificate_file", at)
		}
		switch {
		case (ti.JWKSURI == "") == (ti.JWKSFile == ""):
			add("%s needs exactly one of jwks_uri and jwks_file", at)
		case ti.JWKSURI != "":
			u, err := url.Parse(ti.JWKSURI)
			if err != nil || u.Host == "" || !(u.Scheme == "https" || (u.Scheme == "http" && (dev || isLoopbackHost(u.Hostname())))) {
				add("%s.jwks_uri %q must be an https URL (http only for loopback hosts or with --dev)", at, ti.JWKSURI)
			}
		default:
			if _, err := os.Stat(ti.JWKSFile); err != nil {
				add("%s.jwks_file: %v", at, err)
			}
		}
	}
	return errs
}

// ReadCertificates reads a PEM file of one or more X.509 certificates (a
// SAML IdP's signing certificates).
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseCertificates(data)
}

// ParseCertificates reads one or more PEM "CERTIFICATE" blocks. Any other
// block, such as a private key put in the file by mistake, or text after
// the last block that is not PEM, is an error; text before the first block
// (openssl's "subject=" lines) is allowed.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		rest = r
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate in the file")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the last PEM block is not PEM")
	}
	return certs, nil
}
