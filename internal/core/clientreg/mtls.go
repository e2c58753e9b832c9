package clientreg

import (
	"net"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// checkMTLS validates the mutual TLS members of client metadata
// (RFC 8705 §2.1.2, §2.2.2): a tls_client_auth client names exactly one
// subject DN or SAN, a self_signed_tls_client_auth client registers its
// keys inline (jwks); the members are refused for other methods.
func checkMTLS(md *store.ClientMetadata) *oauth.Error {
	names := 0
	for _, v := range []string{md.TLSClientAuthSubjectDN, md.TLSClientAuthSANDNS, md.TLSClientAuthSANURI,
		md.TLSClientAuthSANIP, md.TLSClientAuthSANEmail} {
		if v != "" {
			names++
		}
	}
	switch md.TokenEndpointAuthMethod {
	case oauth.AuthMethodTLSClientAuth:
		if names != 1 {
			return oauth.InvalidClientMetadata("tls_client_auth requires exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email")
		}
		if md.TLSClientAuthSANIP != "" && net.ParseIP(md.TLSClientAuthSANIP) == nil {
			return oauth.InvalidClientMetadata("tls_client_auth_san_ip is not an IP address")
		}
	case oauth.AuthMethodSelfSignedTLSClientAuth:
		if len(md.JWKS) == 0 {
			return oauth.InvalidClientMetadata("self_signed_tls_client_auth requires jwks (jwks_uri is not supported for it)")
		}
	default:
		if names > 0 {
			return oauth.InvalidClientMetadata("tls_client_auth_* members require token_endpoint_auth_method tls_client_auth")
		}
	}
	return nil
}
