package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/tracing/otlptest"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/simple"
)

// TestTracing: a node with tracing.otlp_endpoint exports to a real
// OTLP/HTTP receiver a server span per request, spans for the store calls
// made under it, and a client span for the web-hook call; the web hook
// receives the W3C traceparent of that span, in the caller's trace.
func TestTracing(t *testing.T) {
	recv := otlptest.Start(t)
	var (
		mu          sync.Mutex
		traceparent string
	)
	grantHook := plugintest.GrantHook(t, simple.ClientCredentials{Tokens: simple.Tokens{Audience: []string{"https://api.example.com"}}},
		plugintest.ClaimsHookOptions{BearerToken: "hook-token", HMACSecret: []byte("hook-secret")})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparent = r.Header.Get("Traceparent")
		mu.Unlock()
		grantHook.ServeHTTP(w, r)
	}))
	defer hook.Close()
	e := newEnv(t, func(c *config.Config) {
		c.Tracing.OTLPEndpoint = recv.URL
		c.Tracing.SampleRatio = 0 // only the caller's sampled trace is recorded
		c.Grants.ClientCredentials = config.GrantHandler{Handler: "webhook", URL: hook.URL, Token: "hook-token", HMACSecret: "hook-secret", Timeout: 2 * time.Second}
	})
	status, reg := e.registerClient(map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}, "scope": "read"})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)

	const trace = "0af7651916cd43dd8448eb211c80319c"
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Traceparent", "00-"+trace+"-b7ad6b7169203331-01")
	req.SetBasicAuth(id, sec)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	// Close flushes the spans still buffered.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}

	var server, hookCall *tracepb.Span
	var inTrace []string
	for _, s := range recv.Spans() {
		if otlptest.TraceID(s) != trace {
			t.Errorf("span %s of trace %s recorded at ratio 0", s.Name, otlptest.TraceID(s))
			continue
		}
		inTrace = append(inTrace, s.Name)
		switch {
		case s.Kind == tracepb.Span_SPAN_KIND_SERVER && otlptest.Attr(s, "url.path") == "/token":
			server = s
		case s.Kind == tracepb.Span_SPAN_KIND_CLIENT:
			hookCall = s
		}
	}
	if server == nil || hookCall == nil {
		t.Fatalf("spans of the trace: %v", inTrace)
	}
	if otlptest.Attr(server, "http.response.status_code") != "200" {
		t.Errorf("server span attributes %v", server.Attributes)
	}
	// The client store lookup (client authentication) and the web hook
	// happen under the token request.
	if !containsPrefix(inTrace, "store.ClientStore.") {
		t.Errorf("no store span in %v", inTrace)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "00-" + trace + "-" + otlptest.SpanID(hookCall) + "-01"; traceparent != want {
		t.Errorf("web hook got traceparent %q, want %q", traceparent, want)
	}
}

func containsPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
