// Package tracing is Keyward's optional OpenTelemetry tracing: spans for
// each HTTP request, store call, claims-source and web-hook call, exported
// over OTLP/HTTP, with the W3C trace context
// (https://www.w3.org/TR/trace-context/) read from incoming requests and
// sent on outgoing ones. It is off unless tracing.otlp_endpoint is set
// (docs/configuration.md, docs/operator-guide.md).
//
// The hooks sit at the edges, so that the protocol core (internal/core)
// knows nothing of tracing: an HTTP middleware, a decorator of the store
// interfaces, a claims-source wrapper and an http.RoundTripper for web
// hooks and back-channel logout. A nil *Tracer is valid and leaves every
// wrapped value as it was.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names Keyward's tracer (the OTel "instrumentation scope").
const instrumentation = "github.com/keyward/keyward"

// Config configures tracing.
type Config struct {
	// Endpoint is the OTLP/HTTP traces URL, e.g.
	// http://collector:4318/v1/traces; empty turns tracing off.
	Endpoint string
	// SampleRatio is the share of new traces recorded, 0 to 1. A request
	// that arrives with a sampled W3C traceparent is recorded whatever the
	// ratio, so that a caller's trace is not cut in the middle.
	SampleRatio float64
	// ServiceName is the service.name resource attribute.
	ServiceName string
}

// Tracer records and exports spans. The zero of *Tracer (nil) is tracing
// switched off.
type Tracer struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
}

// New starts tracing, or returns nil when cfg.Endpoint is empty. The
// exporter connects lazily: an unreachable collector does not stop the
// node, spans are dropped (and the SDK logs it) instead.
func New(ctx context.Context, cfg Config) (*Tracer, error) {
	if cfg.Endpoint == "" {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = "keyward"
	}
	res := resource.NewSchemaless(attribute.String("service.name", name))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Tracer{
		provider: tp,
		tracer:   tp.Tracer(instrumentation),
		prop:     propagation.TraceContext{},
	}, nil
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// start begins a span; end finishes it, recording err.
func (t *Tracer) start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

func end(span trace.Span, err error) {
	if err != nil {
		// The error text is not recorded: store and plug-in errors may
		// quote identifiers, and traces leave the node. The type is enough
		// to find the log line (same trace, same time).
		span.SetStatus(codes.Error, fmt.Sprintf("%T", err))
	}
	span.End()
}

// Handler traces each request: a server span, the child of the caller's
// span when the request carries a W3C traceparent. The span is named after
// the method only (OTel's rule when the route is not known here); the path
// is an attribute. The query string is never recorded: it may carry codes
// or tokens.
func (t *Tracer) Handler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.start(ctx, r.Method, trace.SpanKindServer,
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
		)
		defer span.End()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
		if rec.status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(rec.status))
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Transport traces outgoing requests (web hooks, back-channel logout) with
// a client span and sends its W3C traceparent, so that the receiver can
// join the trace. base nil means http.DefaultTransport. With tracing off it
// returns base unchanged.
func (t *Tracer) Transport(base http.RoundTripper) http.RoundTripper {
	if t == nil {
		return base
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{t: t, base: base}
}

type transport struct {
	t    *Tracer
	base http.RoundTripper
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tr.t.start(r.Context(), "HTTP "+r.Method, trace.SpanKindClient,
		attribute.String("http.request.method", r.Method),
		attribute.String("server.address", r.URL.Host),
		attribute.String("url.path", r.URL.Path),
	)
	// RoundTrip must not modify the request: clone before adding headers.
	r = r.Clone(ctx)
	tr.t.prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := tr.base.RoundTrip(r)
	if err != nil {
		end(span, err)
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	span.End()
	return resp, nil
}

// HTTPClient returns a client for web hooks whose requests are traced, or
// nil (the caller's default) with tracing off. Redirects are not followed,
// as by the web-hook plug-ins' own clients: a redirect would re-send
// credentials somewhere not configured.
func (t *Tracer) HTTPClient() *http.Client {
	if t == nil {
		return nil
	}
	return &http.Client{
		Transport:     t.Transport(nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
