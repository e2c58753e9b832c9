package config

import (
	"fmt"
	"net/netip"
	"strings"
)

// Outbound configures the one fetcher for URLs that clients register
// (jwks_uri, sector_identifier_uri, backchannel_logout_uri, request_uri):
// outside --dev it refuses plain http and every address that is not public
// unicast. These keys let an operator reach hosts on an internal network
// on purpose; plug-in web hooks, configured by the operator, are exempt
// anyway.
type Outbound struct {
	// AllowHosts are host names (no port, no scheme) that may be fetched
	// whatever addresses they resolve to.
	AllowHosts []string `koanf:"allow_hosts"`
	// AllowCIDRs are address ranges (e.g. 10.1.0.0/16) that may be
	// dialled although they are private, loopback or link-local.
	AllowCIDRs []string `koanf:"allow_cidrs"`
}

// Prefixes returns AllowCIDRs parsed; Validate has checked them.
func (o Outbound) Prefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(o.AllowCIDRs))
	for _, s := range o.AllowCIDRs {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func (o Outbound) validate() []error {
	var errs []error
	for _, h := range o.AllowHosts {
		if h == "" || strings.ContainsAny(h, ":/ @?#") {
			errs = append(errs, fmt.Errorf("outbound.allow_hosts: %q must be a bare host name", h))
		}
	}
	for _, s := range o.AllowCIDRs {
		if _, err := netip.ParsePrefix(strings.TrimSpace(s)); err != nil {
			errs = append(errs, fmt.Errorf("outbound.allow_cidrs: %q is not a CIDR range such as 10.0.0.0/8", s))
		}
	}
	return errs
}
