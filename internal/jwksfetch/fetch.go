// Package jwksfetch is the outbound fetcher for URLs that clients put in
// their registration: the JWK set documents of a jwks_uri (RFC 7591 §2),
// for jose.ClientKeys, and the sector identifier documents of a
// sector_identifier_uri (OIDC Core §8.1), for clientreg. It is the one
// piece of client handling that does network I/O, kept out of
// internal/jose and internal/core so that the protocol core never reaches
// net/http.
//
// The fetch is made on behalf of whoever registers or names a client, so
// it is deliberately narrow: http(s) only, no redirects, one size-limited
// 200 answer. A guarded Fetcher (NewGuarded) also refuses plain http and
// any address that is not public unicast — loopback, private (RFC 1918,
// RFC 4193), link-local, unspecified, multicast — checked on the address
// actually dialled, so that DNS cannot point a public name at an internal
// service (server-side request forgery).
package jwksfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
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
}

// NewGuarded returns a Fetcher that refuses, unless o.Dev, plain http and
// connections to any address that is not public unicast. It uses no proxy
// from the environment: a proxy would dial for it, unchecked.
func NewGuarded(o Options) *Fetcher {
	dialer := &net.Dialer{Timeout: o.Timeout}
	if !o.Dev {
		dialer.Control = refusePrivate
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
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

// refusePrivate is a net.Dialer Control function: it sees the resolved
// address about to be dialled.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbiddenAddress, address)
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
	}
	return nil
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
	return !cgnat.Contains(a)
}

// cgnat is the shared address space of RFC 6598, internal to carriers.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

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
