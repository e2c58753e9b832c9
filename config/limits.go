package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// RateLimits are the token buckets of the endpoints a client or a stranger
// can call at will (docs/api.md §18). A zero rate or burst turns a bucket
// off.
type RateLimits struct {
	Token        EndpointRate `koanf:"token"`
	PAR          EndpointRate `koanf:"par"`
	Introspect   EndpointRate `koanf:"introspect"`
	Revoke       EndpointRate `koanf:"revoke"`
	Registration EndpointRate `koanf:"registration"`
	// APIAuthFailures counts the integration APIs' failed bearer
	// authentications; only per_address applies.
	APIAuthFailures EndpointRate `koanf:"api_auth_failures"`
	// Login counts the reference login UI's password checks; per_client is
	// keyed by the login name (the account under attack).
	Login EndpointRate `koanf:"login"`
}

// EndpointRate are the two buckets of one endpoint.
type EndpointRate struct {
	PerClient  Rate `koanf:"per_client"`
	PerAddress Rate `koanf:"per_address"`
}

// Rate is a token bucket: Rate requests per second, up to Burst at once.
type Rate struct {
	Rate  float64 `koanf:"rate"`
	Burst int     `koanf:"burst"`
}

// Enabled reports whether the bucket limits anything.
func (r Rate) Enabled() bool { return r.Rate > 0 && r.Burst > 0 }

// HTTP bounds what a slow or large request can hold.
type HTTP struct {
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	MaxHeaderBytes    int           `koanf:"max_header_bytes"`
	// MaxBodyBytes caps form and JSON request bodies; registration bodies,
	// which may carry a JWK set, may be five times larger.
	MaxBodyBytes int `koanf:"max_body_bytes"`
}

// Limits caps what a flood can make the node store.
type Limits struct {
	// MaxAuthzSessions caps the authorisation sessions this node holds open
	// at once; 0: no cap.
	MaxAuthzSessions int `koanf:"max_authz_sessions"`
	// MaxPARRequests caps the pushed authorisation requests this node holds
	// at once; 0: no cap.
	MaxPARRequests int `koanf:"max_par_requests"`
}

// Admission bounds the requests in progress per route class.
type Admission struct {
	Token   AdmissionClass `koanf:"token"`
	UI      AdmissionClass `koanf:"ui"`
	API     AdmissionClass `koanf:"api"`
	Monitor AdmissionClass `koanf:"monitor"`
}

// AdmissionClass bounds one route class; a zero MaxInFlight or MaxQueue is
// derived from GOMAXPROCS when the server starts.
type AdmissionClass struct {
	MaxInFlight  int           `koanf:"max_in_flight"`
	MaxQueue     int           `koanf:"max_queue"`
	QueueTimeout time.Duration `koanf:"queue_timeout"`
}

func defaultRates(perClient, perAddress Rate) EndpointRate {
	return EndpointRate{PerClient: perClient, PerAddress: perAddress}
}

// defaultRateLimits leave room for normal operation: a per-address bucket
// is larger than a per-client one where a NAT or proxy may hide many
// clients behind one address.
func defaultRateLimits() RateLimits {
	return RateLimits{
		Token:        defaultRates(Rate{50, 100}, Rate{100, 200}),
		PAR:          defaultRates(Rate{50, 100}, Rate{100, 200}),
		Introspect:   defaultRates(Rate{200, 400}, Rate{200, 400}),
		Revoke:       defaultRates(Rate{50, 100}, Rate{100, 200}),
		Registration: defaultRates(Rate{5, 20}, Rate{5, 20}),
		// A correct caller never fails; a prober fails a lot.
		APIAuthFailures: defaultRates(Rate{}, Rate{1, 20}),
		// One check every 5 s per account after 10, one a second per
		// address after 30: slow enough against guessing, fast enough
		// for an office behind one NAT.
		Login: defaultRates(Rate{0.2, 10}, Rate{1, 30}),
	}
}

func defaultHTTP() HTTP {
	return HTTP{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      50_000,
	}
}

func defaultLimits() Limits {
	return Limits{MaxAuthzSessions: 100_000, MaxPARRequests: 100_000}
}

func defaultAdmission() Admission {
	q := time.Second
	return Admission{
		Token: AdmissionClass{QueueTimeout: q}, UI: AdmissionClass{QueueTimeout: q},
		API: AdmissionClass{QueueTimeout: q}, Monitor: AdmissionClass{QueueTimeout: q},
	}
}

func (c *Config) validateLimits() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, p := range c.TrustedProxies {
		p = strings.TrimSpace(p)
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			add("trusted_proxies: %q is not an IP address or CIDR", p)
		}
	}
	switch strings.ToLower(c.TrustedProxyHeader) {
	case "x-forwarded-for", "forwarded":
	default:
		add("trusted_proxy_header %q must be X-Forwarded-For or Forwarded", c.TrustedProxyHeader)
	}
	rl := c.RateLimits
	for name, e := range map[string]EndpointRate{"token": rl.Token, "par": rl.PAR, "introspect": rl.Introspect,
		"revoke": rl.Revoke, "registration": rl.Registration, "api_auth_failures": rl.APIAuthFailures, "login": rl.Login} {
		for kind, r := range map[string]Rate{"per_client": e.PerClient, "per_address": e.PerAddress} {
			if !(r.Rate >= 0) || r.Burst < 0 {
				add("rate_limits.%s.%s: rate and burst must not be negative", name, kind)
			}
		}
	}
	if rl.APIAuthFailures.PerClient != (Rate{}) {
		add("rate_limits.api_auth_failures.per_client is not supported: a failed API authentication has no client; use per_address")
	}
	h := c.HTTP
	for name, d := range map[string]time.Duration{"read_header_timeout": h.ReadHeaderTimeout, "read_timeout": h.ReadTimeout,
		"write_timeout": h.WriteTimeout, "idle_timeout": h.IdleTimeout} {
		if d <= 0 {
			add("http.%s must be positive: an unbounded wait lets slow clients hold connections", name)
		}
	}
	if h.MaxHeaderBytes < 4096 {
		add("http.max_header_bytes %d must be at least 4096", h.MaxHeaderBytes)
	}
	if h.MaxBodyBytes < 4096 {
		add("http.max_body_bytes %d must be at least 4096", h.MaxBodyBytes)
	}
	if c.Limits.MaxAuthzSessions < 0 || c.Limits.MaxPARRequests < 0 {
		add("limits.max_authz_sessions and limits.max_par_requests must not be negative (0: no cap)")
	}
	for name, a := range map[string]AdmissionClass{"token": c.Admission.Token, "ui": c.Admission.UI,
		"api": c.Admission.API, "monitor": c.Admission.Monitor} {
		if a.MaxInFlight < 0 || a.MaxQueue < 0 {
			add("admission.%s: max_in_flight and max_queue must not be negative (0: derived from GOMAXPROCS)", name)
		}
		if a.QueueTimeout <= 0 {
			add("admission.%s.queue_timeout must be positive", name)
		}
	}
	return errs
}
