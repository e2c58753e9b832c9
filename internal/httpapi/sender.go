package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/core/dpop"
)

// Sender-constrained tokens at the HTTP layer: the DPoP scheme and
// headers (RFC 9449 §7, §8) and the endpoint URLs proofs are bound to.

// dpopToken returns the access token of "Authorization: DPoP <token>".
func dpopToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, dpop.Scheme) {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// endpointURL is the URL a DPoP proof's "htu" must name for a request:
// the endpoint's mTLS alias (RFC 8705 §5) when the request came to the
// alias's host, else the endpoint's advertised URL. Never the Host header
// alone: the URL must be one the issuer advertises.
func (a *API) endpointURL(r *http.Request, name, canonical string) string {
	if alias, ok := a.Metadata.MTLSEndpointAliases[name]; ok {
		if u, err := url.Parse(alias); err == nil && strings.EqualFold(u.Host, r.Host) {
			return alias
		}
	}
	return canonical
}

// freshDPoPNonce sends a new server nonce with a successful response when
// nonces are required, so that the client's next proof can carry it
// without a use_dpop_nonce round trip (RFC 9449 §8.2).
func (a *API) freshDPoPNonce(w http.ResponseWriter) {
	v := a.Tokens.DPoP
	if v == nil || !v.NonceRequired {
		return
	}
	if n, err := v.NewNonce(); err == nil {
		w.Header().Set(dpop.NonceHeader, n)
	}
}
