// Package clientaddr resolves the address of the client behind a request.
//
// The peer address of the TCP connection is the client, unless the peer
// is a trusted proxy (the trusted_proxies configuration key): only then is
// the forwarding header believed, X-Forwarded-For or Forwarded (RFC 7239),
// whichever the proxies write (trusted_proxy_header). Only that one is
// read: a proxy that appends to X-Forwarded-For passes a Forwarded header
// from the client through untouched, so reading both would let the client
// choose. The chain is walked from the right, the hops the operator's own
// proxies appended, and the first address that is not a trusted proxy is
// the client. Anything left of it was written by the client.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver resolves client addresses against a set of trusted proxies.
// The zero value and nil trust no proxy.
type Resolver struct {
	trusted   []netip.Prefix
	forwarded bool // read Forwarded instead of X-Forwarded-For
}

// Headers the proxies may write, for SetHeader.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// SetHeader chooses the forwarding header to read: HeaderXForwardedFor
// (the default) or HeaderForwarded.
func (r *Resolver) SetHeader(name string) error {
	switch {
	case strings.EqualFold(name, HeaderXForwardedFor):
		r.forwarded = false
	case strings.EqualFold(name, HeaderForwarded):
		r.forwarded = true
	default:
		return fmt.Errorf("trusted_proxy_header %q must be X-Forwarded-For or Forwarded", name)
	}
	return nil
}

// ParseTrusted builds a Resolver from CIDRs and single IP addresses.
func ParseTrusted(entries []string) (*Resolver, error) {
	r := &Resolver{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("trusted_proxies: %q is not a CIDR: %w", e, err)
			}
			r.trusted = append(r.trusted, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR", e)
		}
		a = a.Unmap()
		r.trusted = append(r.trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return r, nil
}

func (r *Resolver) isTrusted(a netip.Addr) bool {
	if r == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the address of the connection's other end; the zero Addr when
// RemoteAddr holds none (an in-process request).
func peer(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// FromTrustedProxy reports whether the request came straight from a
// trusted proxy, whose headers (forwarded addresses, a client certificate)
// may then be believed.
func (r *Resolver) FromTrustedProxy(req *http.Request) bool {
	return r.isTrusted(peer(req))
}

// Resolve returns the client address of req: the peer, or when the peer
// is a trusted proxy the rightmost untrusted forwarded address. A trusted
// proxy that forwards nothing usable leaves the peer as the address.
func (r *Resolver) Resolve(req *http.Request) netip.Addr {
	p := peer(req)
	if !r.isTrusted(p) {
		return p
	}
	hops := forwardedFor(req.Header, r.forwarded)
	for i := len(hops) - 1; i >= 0; i-- {
		a := hops[i]
		if !a.IsValid() {
			// An unparsable hop (an obfuscated identifier, RFC 7239 §6.3,
			// or garbage): stop at the last address we could verify.
			return p
		}
		if !r.isTrusted(a) {
			return a
		}
		p = a
	}
	return p
}

// forwardedFor lists the hops of Forwarded (RFC 7239 §4) or of
// X-Forwarded-For, left to right, every header line in order. A hop that
// is not an IP address is the zero Addr.
func forwardedFor(h http.Header, forwarded bool) []netip.Addr {
	var hops []netip.Addr
	if forwarded {
		for _, line := range h.Values("Forwarded") {
			for elem := range strings.SplitSeq(line, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						hops = append(hops, parseNode(v))
					}
				}
			}
		}
		return hops
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for v := range strings.SplitSeq(line, ",") {
			hops = append(hops, parseNode(v))
		}
	}
	return hops
}

// parseNode parses an RFC 7239 §6 node ("192.0.2.1", "\"[2001:db8::1]:4711\"")
// or an X-Forwarded-For entry.
func parseNode(v string) netip.Addr {
	v = strings.Trim(strings.TrimSpace(v), `"`)
	if ap, err := netip.ParseAddrPort(v); err == nil {
		return ap.Addr().Unmap()
	}
	v = strings.TrimSuffix(strings.TrimPrefix(v, "["), "]")
	if a, err := netip.ParseAddr(v); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

type ctxKey struct{}

// Handler resolves each request's client address into its context.
func (r *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a := r.Resolve(req)
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ctxKey{}, a)))
	})
}

// From returns the client address resolved by Handler; the zero Addr when
// there is none (an in-process request, or no Handler in front).
func From(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(ctxKey{}).(netip.Addr)
	return a
}

// Key is the rate-limit key of an address: an IPv4 address as it is, an
// IPv6 address by its /64, the smallest allocation a subscriber gets (RFC
// 6177): a host that owns a /64 could otherwise take a fresh bucket for
// each of its 2^64 addresses. The zero Addr is "unknown".
func Key(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is4():
		return a.String()
	}
	return netip.PrefixFrom(a, 64).Masked().String()
}
