package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/server"
)

// recorder is a claims source that records the lifecycle calls the server
// makes, into a log shared by every plug-in of one test.
type recorder struct {
	name    string
	log     *callLog
	initErr error
	unwell  *error
	env     plugin.Env
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) { l.mu.Lock(); l.calls = append(l.calls, s); l.mu.Unlock() }
func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (r *recorder) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	r.log.add("claims " + r.name)
	return map[string]any{}, nil
}

func (r *recorder) Init(_ context.Context, env plugin.Env) error {
	r.env = env
	r.log.add("init " + r.name)
	return r.initErr
}

func (r *recorder) Healthy(context.Context) error {
	r.log.add("healthy " + r.name)
	if r.unwell != nil {
		return *r.unwell
	}
	return nil
}

func (r *recorder) Close() error { r.log.add("close " + r.name); return nil }

// newLifecycleServer builds a server whose claims sources are the users
// file and then the recorders named in sources, in that order; a source
// "name:message" is a recorder whose Init fails with message.
func newLifecycleServer(t *testing.T, log *callLog, built map[string]*recorder, unwell *error, sources ...string) (*server.Server, error) {
	t.Helper()
	factory := func(raw json.RawMessage) (any, error) {
		var c struct {
			Name      string `json:"name"`
			InitError string `json:"init_error"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		r := &recorder{name: c.Name, log: log, unwell: unwell}
		if c.InitError != "" {
			r.initErr = errors.New(c.InitError)
		}
		built[c.Name] = r
		return r, nil
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Issuer = "http://127.0.0.1:8080/"
	cfg.Claims.Sources = []config.ClaimsSource{{Type: "users"}}
	for _, s := range sources {
		// "name~omit" is a recorder under on_error: omit; the others are
		// under fail, so that their health decides readiness.
		s, policy, ok := strings.Cut(s, "~")
		if !ok {
			policy = "fail"
		}
		name, initErr, _ := strings.Cut(s, ":")
		cfg.Claims.Sources = append(cfg.Claims.Sources, config.ClaimsSource{Type: "recorder", OnError: policy,
			Config: map[string]any{"name": name, "init_error": initErr}})
	}
	return server.New(t.Context(), cfg, server.Options{Plugins: plugin.Factories{"recorder": factory}})
}

func TestPluginLifecycle(t *testing.T) {
	log := &callLog{}
	built := map[string]*recorder{}
	var unwell error
	srv, err := newLifecycleServer(t, log, built, &unwell, "first", "second")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := log.get(), []string{"init first", "init second"}; !slices.Equal(got, want) {
		t.Fatalf("after New: calls %q, want %q", got, want)
	}
	env := built["first"].env
	if env.Issuer != "http://127.0.0.1:8080" || env.Log == nil {
		t.Errorf("Init env = %+v, want the issuer without its slash and a logger", env)
	}

	ping := func() int {
		req := httptest.NewRequest("GET", "/monitor/v1/ping", nil)
		req.Header.Set("Authorization", "Bearer "+srv.APIToken())
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if code := ping(); code != http.StatusOK {
		t.Errorf("ping with healthy plug-ins = %d, want 200", code)
	}
	if calls := log.get(); !slices.Contains(calls, "healthy first") || !slices.Contains(calls, "healthy second") {
		t.Errorf("readiness did not ask the plug-ins: %q", calls)
	}
	unwell = errors.New("directory unreachable")
	if code := ping(); code != http.StatusServiceUnavailable {
		t.Errorf("ping with an unhealthy plug-in = %d, want 503", code)
	}
	unwell = nil

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	calls := log.get()
	var closes []string
	for _, c := range calls {
		if strings.HasPrefix(c, "close ") {
			closes = append(closes, c)
		}
	}
	if want := []string{"close second", "close first"}; !slices.Equal(closes, want) {
		t.Errorf("closes %q, want %q (reverse order, once each)", closes, want)
	}
}

// TestOmitSourceDoesNotDecideReadiness: a claims source under on_error:
// omit that is down leaves the node ready (its claims are left out); its
// health is still asked.
func TestOmitSourceDoesNotDecideReadiness(t *testing.T) {
	log := &callLog{}
	built := map[string]*recorder{}
	var unwell error
	srv, err := newLifecycleServer(t, log, built, &unwell, "optional~omit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	unwell = errors.New("directory unreachable")
	req := httptest.NewRequest("GET", "/monitor/v1/ping", nil)
	req.Header.Set("Authorization", "Bearer "+srv.APIToken())
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("ping with an unhealthy omit source = %d, want 200", rec.Code)
	}
	if !slices.Contains(log.get(), "healthy optional") {
		t.Errorf("readiness did not ask the omit source: %q", log.get())
	}
}

// TestPluginInitFailureStopsStart: a plug-in whose Init fails stops New
// with its name, and the plug-ins initialised before it are closed again.
func TestPluginInitFailureStopsStart(t *testing.T) {
	log := &callLog{}
	built := map[string]*recorder{}
	_, err := newLifecycleServer(t, log, built, nil, "first", "broken:cannot reach the directory", "third")
	if err == nil {
		t.Fatal("New succeeded although a plug-in's Init failed")
	}
	for _, want := range []string{"claims.sources[2]", "recorder", "init", "cannot reach the directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if got, want := log.get(), []string{"init first", "init broken", "close first"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q: third never initialised, first closed again", got, want)
	}
}
