// Package jwksfetch is the one outbound fetcher for URLs that clients put
// in their registration: the JWK set documents of a jwks_uri (RFC 7591 §2),
// for jose.ClientKeys; the sector identifier documents of a
// sector_identifier_uri (OIDC Core §8.1), for clientreg; the back-channel
// logout notifications (OIDC Back-Channel Logout §2.5), through Transport;
// and request_uri documents (RFC 9101 §5.2) once request objects come. It
// is the one piece of client handling that does network I/O, kept out of
// internal/jose and internal/core so that the protocol core never reaches
// net/http. Web hooks configured by the operator (plug-in URLs) do not go
// through it: the operator chose those addresses.
//
// The fetch is made on behalf of whoever registers or names a client, so
// it is deliberately narrow: http(s) only, no redirects, one size-limited
// 200 answer within a time bound (RFC 9700 §4.15, OIDC Core §16). A
// guarded Fetcher (NewGuarded) also refuses plain http and any address
// that is not public unicast — loopback, private (RFC 1918, RFC 4193),
// link-local (and with it the cloud metadata services 169.254.169.254 and
// fd00:ec2::254), unspecified, multicast, reserved — checked on the
// address actually dialled, in the dialer's Control function, so that DNS
// (including a rebinding answer) cannot point a public name at an internal
// service (server-side request forgery). The operator may allow named
// hosts and address ranges (outbound.allow_hosts, outbound.allow_cidrs).
package jwksfetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Fetcher gets jwks_uri documents with an HTTP client.
type Fetcher struct {
	// Client sends the requests; its Timeout and the context bound each
	// fetch. Its CheckRedirect is not used: redirects are always refused.
	Client *http.Client
	// HTTPSOnly refuses http:// URLs.
	HTTPSOnly bool
}

// Options configure a guarded Fetcher.
type Options struct {
	// Timeout bounds each fetch, connection included. Required.
	Timeout time.Duration
	// Dev admits http:// URLs and loopback and private addresses, for
	// development against local servers (--dev). Never in production.
	Dev bool
	// AllowHosts are host names (compared case-insensitively, without
	// port) that may be reached whatever they resolve to
	// (outbound.allow_hosts). HTTPS is still required outside Dev.
	AllowHosts []string
	// AllowCIDRs are address ranges that may be dialled although they are
	// not public (outbound.allow_cidrs).
	AllowCIDRs []netip.Prefix
	// TLS configures the client side of TLS; nil: system roots. Tests set
	// RootCAs to trust their httptest servers.
	TLS *tls.Config
	// Resolver resolves host names; nil: the system's. Tests point it at
	// their own DNS server.
	Resolver *net.Resolver
}

// NewGuarded returns a Fetcher that refuses, unless o.Dev, plain http and
// connections to any address that is not public unicast. It uses no proxy
// from the environment: a proxy would dial for it, unchecked.
func NewGuarded(o Options) *Fetcher {
	guarded := &net.Dialer{Timeout: o.Timeout, Resolver: o.Resolver}
	if !o.Dev {
		g := guard{allow: o.AllowCIDRs}
		guarded.Control = g.control
	}
	dial := guarded.DialContext
	if len(o.AllowHosts) > 0 && !o.Dev {
		allowed := make(map[string]bool, len(o.AllowHosts))
		for _, h := range o.AllowHosts {
			allowed[strings.ToLower(h)] = true
		}
		open := &net.Dialer{Timeout: o.Timeout, Resolver: o.Resolver}
		// The transport dials the URL's host:port before resolution, so
		// the name the operator allowed is what is compared here.
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, err := net.SplitHostPort(addr); err == nil && allowed[strings.ToLower(host)] {
				return open.DialContext(ctx, network, addr)
			}
			return guarded.DialContext(ctx, network, addr)
		}
	}
	var tlsConf *tls.Config
	if o.TLS != nil {
		tlsConf = o.TLS.Clone()
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dial,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Fetcher{Client: &http.Client{Transport: tr, Timeout: o.Timeout}, HTTPSOnly: !o.Dev}
}

// ErrForbiddenAddress is the cause of a refused connection to a
// non-public address.
var ErrForbiddenAddress = errors.New("address is not a public unicast address")

// guard holds the operator's allowed ranges for the dialer's Control.
type guard struct{ allow []netip.Prefix }

// control is a net.Dialer Control function: it sees the resolved address
// about to be dialled, after DNS, so a name cannot be rebound to an
// internal address between a check and the connection.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
	}
	a := ap.Addr().Unmap()
	for _, p := range g.allow {
		if p.Contains(a) {
			return nil
		}
	}
	if !PublicAddr(a) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, a)
	}
	return nil
}

// Transport returns the fetcher's round tripper, for callers that send
// other requests under the same guard (back-channel logout POSTs): the
// address check and, when HTTPSOnly, the scheme check. The caller must
// refuse redirects itself.
func (f *Fetcher) Transport() http.RoundTripper {
	if f == nil || f.Client == nil {
		return nil
	}
	base := f.Client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	return schemeGuard{base: base, httpsOnly: f.HTTPSOnly}
}

type schemeGuard struct {
	base      http.RoundTripper
	httpsOnly bool
}

func (g schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if s := req.URL.Scheme; s != "https" && (s != "http" || g.httpsOnly) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("unsupported URL scheme %q", s)
	}
	return g.base.RoundTrip(req)
}

// PublicAddr reports whether a is a public unicast address: not loopback,
// private, link-local, unspecified, multicast or shared (RFC 6598).
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	switch {
	case !a.IsValid(), a.IsLoopback(), a.IsPrivate(), a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast(),
		a.IsInterfaceLocalMulticast(), a.IsMulticast(), a.IsUnspecified():
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic are the ranges, beyond what netip classifies, that are not
// public unicast (IANA special-purpose registries, RFC 6890).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),     // shared address space, RFC 6598 (CGNAT; Alibaba's metadata 100.100.100.200)
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network", RFC 791
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments, RFC 6890
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking, RFC 2544
	netip.MustParsePrefix("240.0.0.0/4"),       // reserved, and 255.255.255.255 broadcast
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64, RFC 6052: may embed an internal IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),    // local-use NAT64, RFC 8215
	netip.MustParsePrefix("2002::/16"),         // 6to4, RFC 3056: may embed an internal IPv4 address
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS IMDS over IPv6 (also in fc00::/7)
}

// New returns a Fetcher using hc, which must not be nil: the server never
// uses http.DefaultClient, which has no timeout.
func New(hc *http.Client) *Fetcher { return &Fetcher{Client: hc} }

// Fetch returns the body of a 200 answer to GET uri, at most maxBytes long.
// A redirect, any other status, a body over the limit or a scheme other
// than http(s) is an error.
func (f *Fetcher) Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error) {
	if f == nil || f.Client == nil {
		return nil, errors.New("no HTTP client configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if req.URL.Scheme != "https" && (req.URL.Scheme != "http" || f.HTTPSOnly) {
		return nil, fmt.Errorf("unsupported URL scheme %q", req.URL.Scheme)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	// Following a redirect would let the jwks_uri send the fetch to an
	// internal address. The redirect is refused, on a copy so that the
	// caller's client is left as configured.
	hc := *f.Client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, fmt.Errorf("get: status %d redirect refused: the URL must serve the document itself", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxBytes)
	}
	return body, nil
}
