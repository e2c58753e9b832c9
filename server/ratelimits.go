package server

import (
	"cmp"
	"context"
	"net/http"
	"runtime"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/admission"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// httpLimits builds the HTTP layer's throttles and admission gates from
// the configuration (docs/api.md §18).
func httpLimits(cfg config.Config, resolver *clientaddr.Resolver, now func() time.Time) httpapi.Limits {
	rl := cfg.RateLimits
	endpoint := func(e config.EndpointRate) httpapi.RateLimit {
		return httpapi.RateLimit{PerClient: bucket(e.PerClient, now), PerAddress: bucket(e.PerAddress, now)}
	}
	return httpapi.Limits{
		ClientAddr:      resolver,
		Token:           endpoint(rl.Token),
		PAR:             endpoint(rl.PAR),
		Introspect:      endpoint(rl.Introspect),
		Revoke:          endpoint(rl.Revoke),
		Registration:    endpoint(rl.Registration),
		APIAuthFailures: bucket(rl.APIAuthFailures.PerAddress, now),
		MaxBodyBytes:    int64(cfg.HTTP.MaxBodyBytes),
		Admission:       admissionGates(cfg.Admission, runtime.GOMAXPROCS(0)),
	}
}

func bucket(r config.Rate, now func() time.Time) *ratelimit.Keyed {
	return ratelimit.New(r.Rate, r.Burst, 0, now)
}

// admissionGates derives the unset limits from the processors Go may use:
// the protocol and UI classes are CPU-bound (signing, hashing) and get
// most; the monitoring class needs only a few slots, but its own.
func admissionGates(a config.Admission, procs int) map[httpapi.RouteClass]*admission.Gate {
	gate := func(c config.AdmissionClass, inFlight, queue int) *admission.Gate {
		return admission.NewGate(admission.Limit{
			MaxInFlight:  cmp.Or(c.MaxInFlight, inFlight),
			MaxQueue:     cmp.Or(c.MaxQueue, queue),
			QueueTimeout: c.QueueTimeout,
		})
	}
	return map[httpapi.RouteClass]*admission.Gate{
		httpapi.ClassToken:   gate(a.Token, 8*procs, 32*procs),
		httpapi.ClassUI:      gate(a.UI, 8*procs, 32*procs),
		httpapi.ClassAPI:     gate(a.API, 4*procs, 16*procs),
		httpapi.ClassMonitor: gate(a.Monitor, 4, 16),
	}
}

// loginRateLimit is the reference login UI's rate_limits.login: per
// resolved client address and per login name.
func loginRateLimit(e config.EndpointRate, now func() time.Time) func(*http.Request, string) time.Duration {
	perAddr, perName := bucket(e.PerAddress, now), bucket(e.PerClient, now)
	if perAddr == nil && perName == nil {
		return nil
	}
	return func(r *http.Request, username string) time.Duration {
		if ok, wait := perAddr.Allow(loginAddr(r)); !ok {
			return wait
		}
		if ok, wait := perName.Allow(username); !ok {
			return wait
		}
		return 0
	}
}

// loginAddr is the client address the HTTP layer resolved, as a
// rate-limit key (an IPv6 address by its /64).
func loginAddr(r *http.Request) string {
	return clientaddr.Key(clientaddr.From(r.Context()))
}

// errCapReached is how a full cap answers: 503 temporarily_unavailable,
// to which the HTTP layer adds Retry-After.
func errCapReached(what string) error {
	return oauth.TemporarilyUnavailable("too many open " + what + "; retry later")
}

// cappedAuthzSessions refuses new authorisation sessions over
// limits.max_authz_sessions.
type cappedAuthzSessions struct {
	store.AuthzSessionStore
	cap *admission.Cap
}

func (c cappedAuthzSessions) Create(ctx context.Context, s *store.AuthzSession) error {
	if !c.cap.Add() {
		return errCapReached("authorisation sessions")
	}
	if err := c.AuthzSessionStore.Create(ctx, s); err != nil {
		c.cap.Remove()
		return err
	}
	return nil
}

func (c cappedAuthzSessions) Delete(ctx context.Context, id string) error {
	err := c.AuthzSessionStore.Delete(ctx, id)
	if err == nil {
		c.cap.Remove()
	}
	return err
}

// cappedPAR refuses new pushed requests over limits.max_par_requests.
type cappedPAR struct {
	store.PARStore
	cap *admission.Cap
}

func (c cappedPAR) Create(ctx context.Context, r *store.PushedRequest) error {
	if !c.cap.Add() {
		return errCapReached("pushed authorisation requests")
	}
	if err := c.PARStore.Create(ctx, r); err != nil {
		c.cap.Remove()
		return err
	}
	return nil
}

func (c cappedPAR) Consume(ctx context.Context, id string, now time.Time) (*store.PushedRequest, error) {
	pr, err := c.PARStore.Consume(ctx, id, now)
	if err == nil {
		c.cap.Remove()
	}
	return pr, err
}

// capStores wraps the ephemeral stores with the limits caps; a cap of 0
// leaves a store as it is.
func capStores(cfg config.Config, sessions store.AuthzSessionStore, par store.PARStore, now func() time.Time) (store.AuthzSessionStore, store.PARStore) {
	if c := admission.NewCap(cfg.Limits.MaxAuthzSessions, cfg.Authz.SessionLifetime, now); c != nil {
		sessions = cappedAuthzSessions{sessions, c}
	}
	if c := admission.NewCap(cfg.Limits.MaxPARRequests, cfg.Authz.PARLifetime, now); c != nil {
		par = cappedPAR{par, c}
	}
	return sessions, par
}

// sessionCookieName is the login UI's subject session cookie: __Host-sid
// outside --dev, where cookies are Secure; plain sid in development, where
// browsers may reach the node over http.
func sessionCookieName(cfg config.Config) string {
	if cfg.Dev {
		return "sid"
	}
	return "__Host-sid"
}

// registerAdmissionMetrics exposes each class's gate: requests in flight
// and queued, and how many were shed.
func (s *Server) registerAdmissionMetrics(gates map[httpapi.RouteClass]*admission.Gate) error {
	for _, class := range []httpapi.RouteClass{httpapi.ClassToken, httpapi.ClassUI, httpapi.ClassAPI, httpapi.ClassMonitor} {
		g, c := gates[class], string(class)
		if g == nil {
			continue
		}
		if err := s.metrics.Gauge("admission."+c+".inFlight", "keyward_admission_"+c+"_in_flight",
			"Requests of the "+c+" route class in progress.", func() float64 { return float64(g.InFlight()) }); err != nil {
			return err
		}
		if err := s.metrics.Gauge("admission."+c+".queued", "keyward_admission_"+c+"_queued",
			"Requests of the "+c+" route class waiting for a slot.", func() float64 { return float64(g.Queued()) }); err != nil {
			return err
		}
		if err := s.metrics.CounterFunc("admission."+c+".refused", "keyward_admission_"+c+"_refused_total",
			"Requests of the "+c+" route class shed with 503 (queue full or wait too long).", func() float64 { return float64(g.Refused()) }); err != nil {
			return err
		}
	}
	return nil
}
