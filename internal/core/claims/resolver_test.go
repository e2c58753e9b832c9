package claims_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/plugin/webhook"
)

// recording wraps a source and records the claim lists it was asked for.
type recording struct {
	plugin.ClaimsSource
	mu    sync.Mutex
	asked [][]string
}

func (r *recording) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	r.mu.Lock()
	r.asked = append(r.asked, slices.Clone(req.Claims))
	r.mu.Unlock()
	return r.ClaimsSource.Claims(ctx, req)
}

// supporting adds SupportedClaims to a recording source.
type supporting struct {
	*recording
	patterns []string
}

func (s supporting) SupportedClaims() []string { return s.patterns }

func directory(t *testing.T, u ...users.User) *users.Directory {
	t.Helper()
	d, err := users.New(u)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// hookSource serves dir over an httptest web hook and returns the
// webhook.ClaimsSource pointed at it.
func hookSource(t *testing.T, h http.Handler, supported ...string) *webhook.ClaimsSource {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
		URL: srv.URL, BearerToken: "tok", HMACSecret: []byte("k"), SupportedClaims: supported, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestNewResolverConflicts(t *testing.T) {
	dir := directory(t, users.User{Sub: "a"})
	hook := func(p ...string) plugin.ClaimsSource {
		src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/", SupportedClaims: p})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	tests := []struct {
		name    string
		sources []plugin.ClaimsSource
		wantErr string
	}{
		{name: "file catch-all plus specific hook", sources: []plugin.ClaimsSource{dir, hook("email", "loyalty_*")}},
		{name: "two catch-alls", sources: []plugin.ClaimsSource{dir, hook("*")}, wantErr: `claim "*" is advertised by both claims source 0 and claims source 1`},
		{name: "same name twice", sources: []plugin.ClaimsSource{hook("email", "name"), hook("email")}, wantErr: `claim "email"`},
		{name: "same prefix twice", sources: []plugin.ClaimsSource{hook("x_*"), hook("x_*")}, wantErr: `claim "x_*"`},
		{name: "nil source", sources: []plugin.ClaimsSource{dir, nil}, wantErr: "nil"},
		{name: "source without supporter is not a conflict", sources: []plugin.ClaimsSource{dir, &recording{ClaimsSource: dir}}},
		{name: "no sources", sources: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claims.NewResolver(tc.sources, nil)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewResolver: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewResolver err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestResolverRoutingAndMerge(t *testing.T) {
	// The file knows every claim (including an email and loyalty_tier the
	// hook must win on); the hook is the authority for email and loyalty_*.
	file := &recording{ClaimsSource: directory(t, users.User{Sub: "alice", Claims: map[string]any{
		"name": "Alice", "name#de": "Alicia", "email": "file@example.com", "loyalty_tier": "file-tier",
	}})}
	hookDir := directory(t, users.User{Sub: "alice", Claims: map[string]any{
		"email": "hook@example.com", "loyalty_tier": "gold", "loyalty_points": 120, "name": "Hook Alice",
	}})
	hookRec := &recording{ClaimsSource: hookDir}
	hook := hookSource(t, plugintest.ClaimsHook(t, hookRec, plugintest.ClaimsHookOptions{BearerToken: "tok", HMACSecret: []byte("k")}),
		"email", "loyalty_*")

	fileSrc := supporting{file, []string{"*"}}
	r, err := claims.NewResolver([]plugin.ClaimsSource{fileSrc, hook}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(t.Context(), plugin.ClaimsRequest{
		Subject: "alice",
		Claims:  []string{"sub", "name", "name#de", "email", "loyalty_tier", "loyalty_points", "phone_number", "email"},
	})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	want := map[string]any{
		"name": "Alice", "name#de": "Alicia",
		"email": "hook@example.com", "loyalty_tier": "gold", "loyalty_points": float64(120),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged claims (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"name", "name#de", "phone_number"}}, file.asked); diff != "" {
		t.Errorf("file source asked (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]string{{"email", "loyalty_tier", "loyalty_points"}}, hookRec.asked); diff != "" {
		t.Errorf("hook asked (-want +got):\n%s", diff)
	}
}

func TestResolverFirstSourceWins(t *testing.T) {
	// Sources without ClaimsSupporter are asked for everything; on a
	// conflict the earlier source's value is kept.
	first := &recording{ClaimsSource: directory(t, users.User{Sub: "s", Claims: map[string]any{"name": "First"}})}
	second := &recording{ClaimsSource: directory(t, users.User{Sub: "s", Claims: map[string]any{"name": "Second", "email": "s@example.com"}})}
	for _, order := range []struct {
		name    string
		sources []plugin.ClaimsSource
		want    map[string]any
	}{
		{name: "first then second", sources: []plugin.ClaimsSource{first, second}, want: map[string]any{"name": "First", "email": "s@example.com"}},
		{name: "second then first", sources: []plugin.ClaimsSource{second, first}, want: map[string]any{"name": "Second", "email": "s@example.com"}},
	} {
		t.Run(order.name, func(t *testing.T) {
			// A literal Resolver (no NewResolver) must route the same way.
			r := &claims.Resolver{Sources: order.sources}
			got, err := r.Get(t.Context(), plugin.ClaimsRequest{Subject: "s", Claims: []string{"name", "email"}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(order.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolverPartialFailure(t *testing.T) {
	file := directory(t, users.User{Sub: "alice", Claims: map[string]any{"name": "Alice"}})
	down := hookSource(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}), "email")
	for _, policy := range []string{claims.OnErrorOmit, claims.OnErrorFail} {
		t.Run(policy, func(t *testing.T) {
			r, err := claims.New([]claims.Source{{Name: "file", Source: file}, {Name: "hook", Source: down, OnError: policy}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.Get(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name", "email"}})
			if policy == claims.OnErrorFail {
				if !errors.Is(err, oauth.TemporarilyUnavailable("")) {
					t.Fatalf("Get err = %v, want temporarily_unavailable", err)
				}
			} else if err != nil {
				t.Fatalf("Get err = %v, want nil under omit", err)
			}
			if diff := cmp.Diff(map[string]any{"name": "Alice"}, got); diff != "" {
				t.Errorf("partial claims (-want +got):\n%s", diff)
			}
			if n := r.Failures()["hook"]; n != 1 {
				t.Errorf("failures of hook = %d, want 1", n)
			}
		})
	}
}

// hanging never answers until its context is done, and then not at once.
type hanging struct{ started, release chan struct{} }

func (h hanging) Claims(ctx context.Context, _ plugin.ClaimsRequest) (map[string]any, error) {
	h.started <- struct{}{}
	<-h.release // ignores ctx: a misbehaving plug-in
	return map[string]any{"email": "late@example.com"}, nil
}

func (hanging) SupportedClaims() []string { return []string{"email"} }

// TestResolverDeadline: Get returns at the request deadline even when a
// source ignores its context; the other sources' claims are kept.
func TestResolverDeadline(t *testing.T) {
	file := directory(t, users.User{Sub: "alice", Claims: map[string]any{"name": "Alice"}})
	h := hanging{started: make(chan struct{}, 2), release: make(chan struct{})}
	defer close(h.release)
	for _, policy := range []string{claims.OnErrorOmit, claims.OnErrorFail} {
		t.Run(policy, func(t *testing.T) {
			r, err := claims.New([]claims.Source{{Name: "file", Source: file}, {Name: "slow", Source: h, OnError: policy}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			var got map[string]any
			go func() {
				defer close(done)
				got, err = r.Get(ctx, plugin.ClaimsRequest{Subject: "alice", Claims: []string{"name", "email"}})
			}()
			<-h.started
			cancel()
			<-done
			if policy == claims.OnErrorFail != (err != nil) {
				t.Errorf("Get err = %v under %s", err, policy)
			}
			if _, ok := got["email"]; ok {
				t.Errorf("claims = %v, want no email from the hanging source", got)
			}
		})
	}
}

func TestNewOnErrorPolicy(t *testing.T) {
	_, err := claims.New([]claims.Source{{Name: "claims.sources[0] (x)", Source: directory(t), OnError: "ignore"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "claims.sources[0] (x)") || !strings.Contains(err.Error(), "ignore") {
		t.Errorf("New err = %v, want one naming the source and the bad policy", err)
	}
}

func TestSupported(t *testing.T) {
	r, err := claims.New([]claims.Source{
		{Name: "a", Source: hookSource(t, http.NotFoundHandler(), "email", "loyalty_*")},
		{Name: "b", Source: hookSource(t, http.NotFoundHandler(), "login_ip", "email_verified")},
		{Name: "c", Source: &recording{}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"*", "email", "email_verified", "login_ip", "loyalty_*"}, r.Supported()); diff != "" {
		t.Errorf("Supported (-want +got):\n%s", diff)
	}
}

func TestResolverNoCallsForNothing(t *testing.T) {
	rec := &recording{ClaimsSource: directory(t, users.User{Sub: "a", Claims: map[string]any{"name": "A"}})}
	r, err := claims.NewResolver([]plugin.ClaimsSource{rec}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range [][]string{nil, {"sub"}, {""}} {
		got, err := r.Get(t.Context(), plugin.ClaimsRequest{Subject: "a", Claims: req})
		if err != nil || len(got) != 0 {
			t.Errorf("Get(%q) = %v, %v; want empty, nil", req, got, err)
		}
	}
	if len(rec.asked) != 0 {
		t.Errorf("source was called %d times for empty requests", len(rec.asked))
	}
}

func TestResolverCancelled(t *testing.T) {
	r, err := claims.NewResolver([]plugin.ClaimsSource{directory(t, users.User{Sub: "a"})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := r.Get(ctx, plugin.ClaimsRequest{Subject: "a", Claims: []string{"name"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with cancelled context err = %v, want context.Canceled", err)
	}
}

// TestResolverContract runs the claims source contract over the Resolver
// composed of a file source and a web hook, so the composition keeps the
// same promises as each source.
func TestResolverContract(t *testing.T) {
	fx := plugintest.SampleClaimsFixture()
	fileClaims, hookClaims := map[string]any{}, map[string]any{}
	for k, v := range fx.Claims {
		if strings.HasPrefix(k, "email") {
			hookClaims[k] = v
		} else {
			fileClaims[k] = v
		}
	}
	file := directory(t, users.User{Sub: fx.Subject, Claims: fileClaims})
	hookDir := directory(t, users.User{Sub: fx.Subject, Claims: hookClaims})
	hook := hookSource(t, plugintest.ClaimsHook(t, hookDir, plugintest.ClaimsHookOptions{BearerToken: "tok", HMACSecret: []byte("k")}), "email*")
	r, err := claims.NewResolver([]plugin.ClaimsSource{file, hook}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plugintest.ClaimsSource(t, resolverSource{r}, fx)
}

type resolverSource struct{ r *claims.Resolver }

func (s resolverSource) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	return s.r.Get(ctx, req)
}
