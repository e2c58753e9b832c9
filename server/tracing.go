package server

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/tracing"
)

// tracingShutdownTimeout bounds the flush of the last spans at Close: a
// collector that is down must not hold the node's exit.
const tracingShutdownTimeout = 5 * time.Second

// startTracing starts OpenTelemetry tracing when tracing.otlp_endpoint is
// set and wraps the stores so that each call is a span. The client service
// was built by the node before this and is re-pointed at the wrapped
// stores (nothing has been served yet); the key manager keeps the
// unwrapped key store: its calls are loads and refreshes, not request work.
func (s *Server) startTracing(ctx context.Context) error {
	t, err := tracing.New(ctx, tracing.Config{
		Endpoint:    s.cfg.Tracing.OTLPEndpoint,
		SampleRatio: s.cfg.Tracing.SampleRatio,
	})
	if err != nil {
		return err
	}
	s.tracer = t
	s.stores.Durable = t.Durable(s.stores.Durable)
	s.stores.Ephemeral = t.Ephemeral(s.stores.Ephemeral)
	if t != nil {
		s.clients.Store, s.clients.PushedRequests = s.stores.Durable.Clients, s.stores.Ephemeral.PAR
	}
	return nil
}

// stopTracing exports the spans still buffered.
func (s *Server) stopTracing() error {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	return s.tracer.Shutdown(ctx)
}
