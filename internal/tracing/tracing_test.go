package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/keyward/keyward/internal/tracing"
	"github.com/keyward/keyward/internal/tracing/otlptest"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

// The caller's trace: a W3C traceparent (https://www.w3.org/TR/trace-context/#traceparent-header).
const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan   = "00f067aa0ba902b7"
	callerHeader = "00-" + callerTrace + "-" + callerSpan + "-01"
)

type staticClaims struct{}

func (staticClaims) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return map[string]any{"email": "alice@example.com"}, nil
}
func (staticClaims) SupportedClaims() []string { return []string{"email"} }

// TestSpansAndPropagation: one request through the middleware makes a
// server span in the caller's trace, store and claims-source spans under
// it, and an outgoing web-hook call whose receiver gets a traceparent
// naming the client span; all of it reaches a real OTLP/HTTP receiver.
func TestSpansAndPropagation(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(t.Context(), tracing.Config{Endpoint: recv.URL, SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	var hookParent string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hookParent = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	mem, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	durable := tr.Durable(mem.Durable())
	cs := tr.ClaimsSource("claims.sources[0] (test)", staticClaims{})
	if _, ok := cs.(plugin.ClaimsSupporter); !ok {
		t.Error("the wrapper hides ClaimsSupporter")
	}
	client := tr.HTTPClient()
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if _, err := durable.Clients.Get(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get = %v", err)
		}
		if _, err := cs.Claims(ctx, plugin.ClaimsRequest{Subject: "alice"}); err != nil {
			t.Error(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL+"/hook", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		w.WriteHeader(http.StatusTeapot)
	}))
	req := httptest.NewRequest(http.MethodPost, "/token?code=secret-code", nil)
	req.Header.Set("Traceparent", callerHeader)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}

	spans := byName(recv.Spans())
	srv := spans["POST"]
	if srv == nil {
		t.Fatalf("no server span in %v", names(recv.Spans()))
	}
	// Sampled by the caller although the ratio is 0.
	if otlptest.TraceID(srv) != callerTrace || otlptest.ParentID(srv) != callerSpan || srv.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span trace %s parent %s kind %v", otlptest.TraceID(srv), otlptest.ParentID(srv), srv.Kind)
	}
	if otlptest.Attr(srv, "url.path") != "/token" || otlptest.Attr(srv, "http.response.status_code") != "418" {
		t.Errorf("server span attributes %v", srv.Attributes)
	}
	for _, name := range []string{"store.ClientStore.Get", "claims_source", "HTTP POST"} {
		s := spans[name]
		if s == nil {
			t.Errorf("no %s span in %v", name, names(recv.Spans()))
			continue
		}
		if otlptest.TraceID(s) != callerTrace || otlptest.ParentID(s) != otlptest.SpanID(srv) {
			t.Errorf("%s: trace %s parent %s, want the server span's child", name, otlptest.TraceID(s), otlptest.ParentID(s))
		}
	}
	// Not found is an answer, not a fault.
	if s := spans["store.ClientStore.Get"]; s != nil && s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
		t.Error("a not-found lookup is marked as an error")
	}
	if c := spans["claims_source"]; c != nil && otlptest.Attr(c, "keyward.claims_source") != "claims.sources[0] (test)" {
		t.Errorf("claims span attributes %v", c.Attributes)
	}
	if hc := spans["HTTP POST"]; hc != nil {
		if want := "00-" + callerTrace + "-" + otlptest.SpanID(hc) + "-01"; hookParent != want {
			t.Errorf("web hook got traceparent %q, want %q", hookParent, want)
		}
	}
	for _, s := range recv.Spans() {
		for _, kv := range s.Attributes {
			if strings.Contains(kv.String(), "secret-code") {
				t.Errorf("span %s records the query string: %v", s.Name, kv)
			}
		}
	}
}

// TestRatioZeroRecordsNothingNew: with sample_ratio 0 a request without a
// traceparent is not recorded, and the web hook still gets a (not sampled)
// traceparent.
func TestRatioZeroRecordsNothingNew(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(t.Context(), tracing.Config{Endpoint: recv.URL, SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("Traceparent") }))
	defer hook.Close()
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, hook.URL, nil)
		if resp, err := tr.HTTPClient().Do(req); err == nil {
			resp.Body.Close()
		}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/userinfo", nil))
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(recv.Spans()); n != 0 {
		t.Errorf("%d spans recorded at ratio 0: %v", n, names(recv.Spans()))
	}
	if !strings.HasPrefix(got, "00-") || !strings.HasSuffix(got, "-00") {
		t.Errorf("traceparent %q, want an unsampled one", got)
	}
}

// TestOff: without an endpoint New returns nil and every wrapper hands
// back what it was given.
func TestOff(t *testing.T) {
	tr, err := tracing.New(t.Context(), tracing.Config{})
	if err != nil || tr != nil {
		t.Fatalf("New = %v, %v", tr, err)
	}
	h := http.NotFoundHandler()
	var cs plugin.ClaimsSource = staticClaims{}
	mem, _ := memstore.Open(t.Context())
	d := mem.Durable()
	if tr.Transport(nil) != nil || tr.HTTPClient() != nil || tr.ClaimsSource("x", cs) != cs ||
		tr.Durable(d).Clients != d.Clients || tr.Shutdown(context.Background()) != nil {
		t.Error("a nil tracer changed something")
	}
	if got := tr.Handler(h); got == nil {
		t.Error("Handler lost the handler")
	}
}

func byName(spans []*tracepb.Span) map[string]*tracepb.Span {
	m := map[string]*tracepb.Span{}
	for _, s := range spans {
		m[s.Name] = s
	}
	return m
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
