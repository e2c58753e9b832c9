package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/backchannel"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

// healthProbeID is an authorisation session ID that never exists: looking
// it up proves the ephemeral store (Redis, or the durable backend) answers.
const healthProbeID = "keyward-health-probe"

// checkEphemeral asks the ephemeral store for a session that does not
// exist; "not found" is the healthy answer.
func (s *Server) checkEphemeral(ctx context.Context) error {
	if _, err := s.stores.Ephemeral.AuthzSessions.Get(ctx, healthProbeID, s.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("ephemeral store: %w", err)
	}
	return nil
}

func (s *Server) checkDurable(ctx context.Context) error {
	if _, err := s.stores.Durable.Keys.List(ctx); err != nil {
		return fmt.Errorf("durable store: %w", err)
	}
	return nil
}

// healthChecks are the checks of GET /monitor/v1/healthcheck: both stores
// and every plug-in that reports its health, advisory claims sources
// included (their outage is shown here though it does not make the node
// unready).
func (s *Server) healthChecks() []httpapi.HealthCheck {
	checks := []httpapi.HealthCheck{
		{Name: "durableStore", Check: s.checkDurable},
		{Name: "ephemeralStore", Check: s.checkEphemeral},
	}
	for _, p := range s.plugins.items {
		if h, ok := p.impl.(plugin.HealthChecker); ok {
			checks = append(checks, httpapi.HealthCheck{Name: p.name, Check: h.Healthy})
		}
	}
	return checks
}

// registerGauges adds the gauges read at each scrape.
func (s *Server) registerGauges() error {
	bcl := func(pick func(backchannel.Stats) int64) func() float64 {
		return func() float64 {
			if s.backchannel == nil {
				return 0
			}
			return float64(pick(s.backchannel.Stats()))
		}
	}
	for _, c := range []struct {
		json, prom, help string
		f                func() float64
	}{
		{"backChannelLogout.delivered", "keyward_backchannel_logout_delivered_total", "Back-channel logout notifications delivered.",
			bcl(func(st backchannel.Stats) int64 { return st.Delivered })},
		{"backChannelLogout.failed", "keyward_backchannel_logout_failed_total", "Back-channel logout notifications given up after the last attempt or refused.",
			bcl(func(st backchannel.Stats) int64 { return st.Failed })},
		{"backChannelLogout.retried", "keyward_backchannel_logout_retried_total", "Back-channel logout delivery retries.",
			bcl(func(st backchannel.Stats) int64 { return st.Retried })},
		{"backChannelLogout.dropped", "keyward_backchannel_logout_dropped_total", "Back-channel logout notifications dropped because the queue was full.",
			bcl(func(st backchannel.Stats) int64 { return st.Dropped })},
	} {
		if err := s.metrics.CounterFunc(c.json, c.prom, c.help, c.f); err != nil {
			return err
		}
	}
	return s.metrics.Gauge("keyStore.activeKeyAge", "keyward_signing_key_age_seconds",
		"Age of the oldest active (not retired) signing key; NaN when the store does not answer.",
		func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), readinessTimeout)
			defer cancel()
			keys, err := s.stores.Durable.Keys.List(ctx)
			if err != nil {
				return math.NaN()
			}
			age := 0.0
			for _, k := range keys {
				if k.RetiredAt.IsZero() {
					age = max(age, s.now().Sub(k.CreatedAt).Seconds())
				}
			}
			return age
		})
}

// measuredSource counts and times the calls to a claims source
// (claimsSource.<name>.calls / .failures in the JSON,
// keyward_plugin_calls_total{kind="claimsSource"} in Prometheus).
type measuredSource struct {
	plugin.ClaimsSource
	name string
	m    *metrics.Registry
}

func (m measuredSource) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	start := time.Now()
	out, err := m.ClaimsSource.Claims(ctx, req)
	m.m.ObservePluginCall("claimsSource", m.name, time.Since(start), err)
	return out, err
}

// measured wraps a claims source in measuredSource, keeping the optional
// plugin.ClaimsSupporter visible: the resolver routes claims by it.
func measured(cs plugin.ClaimsSource, name string, m *metrics.Registry) plugin.ClaimsSource {
	ms := measuredSource{cs, name, m}
	if sup, ok := cs.(plugin.ClaimsSupporter); ok {
		return measuredSupporter{ms, sup}
	}
	return ms
}

type measuredSupporter struct {
	measuredSource
	sup plugin.ClaimsSupporter
}

func (m measuredSupporter) SupportedClaims() []string { return m.sup.SupportedClaims() }

// sourceMetricName names a claims source in the metrics: its id when it
// has one, else its type and position.
func sourceMetricName(i int, src config.ClaimsSource) string {
	if src.ID != "" {
		return src.ID
	}
	return fmt.Sprintf("%s%d", src.Type, i)
}
