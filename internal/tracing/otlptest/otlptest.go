// Package otlptest is an in-process OTLP/HTTP trace receiver for tests: a
// real HTTP server that accepts the protobuf export requests of the
// OpenTelemetry SDK (https://opentelemetry.io/docs/specs/otlp/#otlphttp)
// and keeps the spans it decodes.
package otlptest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver collects exported spans.
type Receiver struct {
	// URL is the traces endpoint to configure (…/v1/traces).
	URL string

	mu    sync.Mutex
	spans []*tracepb.Span
}

// Start starts a receiver that closes when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" ||
			req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a POST of OTLP protobuf to /v1/traces", http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, rs := range msg.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				r.spans = append(r.spans, ss.Spans...)
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/v1/traces"
	return r
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

// Attr returns a span's string or int attribute as text, or "".
func Attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		}
	}
	return ""
}

// TraceID is the span's trace ID in hex, as W3C traceparent headers carry it.
func TraceID(s *tracepb.Span) string { return hex.EncodeToString(s.TraceId) }

// SpanID is the span's ID in hex.
func SpanID(s *tracepb.Span) string { return hex.EncodeToString(s.SpanId) }

// ParentID is the parent span's ID in hex, "" for a root span.
func ParentID(s *tracepb.Span) string { return hex.EncodeToString(s.ParentSpanId) }
