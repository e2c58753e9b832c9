package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/keyward/keyward/internal/backchannel"
	"github.com/keyward/keyward/internal/core/logout"
	"github.com/keyward/keyward/internal/tracing"
	"github.com/keyward/keyward/internal/tracing/otlptest"
)

// TestBackchannelLogoutCarriesTraceContext: a back-channel logout sent
// through the traced transport (as the server wires it) reaches the
// relying party with a traceparent naming the exported client span.
func TestBackchannelLogoutCarriesTraceContext(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(t.Context(), tracing.Config{Endpoint: recv.URL, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
	}))
	defer rp.Close()
	d := backchannel.New(backchannel.Config{}, tr.Transport(nil), nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	d.Send(ctx, logout.Notification{ClientID: "rp", URI: rp.URL + "/bcl", Token: "logout-token"})
	header := <-got
	cancel()
	<-done
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	var client *tracepb.Span
	for _, s := range recv.Spans() {
		if s.Kind == tracepb.Span_SPAN_KIND_CLIENT && otlptest.Attr(s, "url.path") == "/bcl" {
			client = s
		}
	}
	if client == nil {
		t.Fatalf("no client span for the delivery in %v", names(recv.Spans()))
	}
	if want := "00-" + otlptest.TraceID(client) + "-" + otlptest.SpanID(client) + "-01"; header != want {
		t.Errorf("relying party got traceparent %q, want %q", header, want)
	}
}
