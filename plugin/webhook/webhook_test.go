package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/plugin/webhook"
)

const testToken = "hook-token"

var testSecret = []byte("hook-hmac-secret")

func fixtureDirectory(t *testing.T, fx plugintest.ClaimsFixture) *users.Directory {
	t.Helper()
	d, err := users.New([]users.User{{Sub: fx.Subject, Username: "carol", Claims: fx.Claims}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestContractParity runs the same contract against the Directory directly
// and through the web hook wrapping it.
func TestContractParity(t *testing.T) {
	fx := plugintest.SampleClaimsFixture()
	dir := fixtureDirectory(t, fx)
	srv := httptest.NewServer(plugintest.ClaimsHook(t, dir, plugintest.ClaimsHookOptions{BearerToken: testToken, HMACSecret: testSecret}))
	t.Cleanup(srv.Close)
	src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
		URL:             srv.URL,
		BearerToken:     testToken,
		HMACSecret:      testSecret,
		SupportedClaims: []string{"*"},
		HTTPClient:      srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("directory", func(t *testing.T) { plugintest.ClaimsSource(t, dir, fx) })
	t.Run("webhook", func(t *testing.T) { plugintest.ClaimsSource(t, src, fx) })
}

func TestNewClaimsSourceValidation(t *testing.T) {
	tests := []struct {
		name    string
		cfg     webhook.ClaimsSourceConfig
		wantErr string
	}{
		{name: "https ok", cfg: webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/claims", SupportedClaims: []string{"x"}}},
		{name: "http loopback ok", cfg: webhook.ClaimsSourceConfig{URL: "http://127.0.0.1:9000/claims", SupportedClaims: []string{"x"}}},
		{name: "http localhost ok", cfg: webhook.ClaimsSourceConfig{URL: "http://localhost/claims", SupportedClaims: []string{"x"}}},
		{name: "http ipv6 loopback ok", cfg: webhook.ClaimsSourceConfig{URL: "http://[::1]:9000/", SupportedClaims: []string{"x"}}},
		{name: "http remote refused", cfg: webhook.ClaimsSourceConfig{URL: "http://hooks.example.com/claims", SupportedClaims: []string{"x"}}, wantErr: "https"},
		{name: "http remote allowed", cfg: webhook.ClaimsSourceConfig{URL: "http://hooks.example.com/claims", SupportedClaims: []string{"x"}, AllowInsecureHTTP: true}},
		{name: "relative", cfg: webhook.ClaimsSourceConfig{URL: "/claims", SupportedClaims: []string{"x"}}, wantErr: "absolute"},
		{name: "ftp", cfg: webhook.ClaimsSourceConfig{URL: "ftp://hooks.example.com/", SupportedClaims: []string{"x"}}, wantErr: "scheme"},
		{name: "credentials in URL", cfg: webhook.ClaimsSourceConfig{URL: "https://u:p@hooks.example.com/", SupportedClaims: []string{"x"}}, wantErr: "credentials"},
		{name: "no supported claims", cfg: webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/"}, wantErr: "supported claims"},
		{name: "sub as supported claim", cfg: webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/", SupportedClaims: []string{"sub"}}, wantErr: "invalid supported claim"},
		{name: "inner wildcard", cfg: webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/", SupportedClaims: []string{"a*b"}}, wantErr: "invalid supported claim"},
		{name: "negative timeout", cfg: webhook.ClaimsSourceConfig{URL: "https://hooks.example.com/", SupportedClaims: []string{"x"}, Timeout: -time.Second}, wantErr: "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webhook.NewClaimsSource(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewClaimsSource: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewClaimsSource err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// recorder captures what the hook received.
type recorder struct {
	mu      sync.Mutex
	header  http.Header
	body    map[string]any
	rawBody string
}

func TestRequestShape(t *testing.T) {
	var rec recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.header = r.Header.Clone()
		rec.rawBody = string(b)
		_ = json.Unmarshal(b, &rec.body)
		rec.mu.Unlock()
		_, _ = io.WriteString(w, `{"sub":"alice","email":"a@example.com"}`)
	}))
	t.Cleanup(srv.Close)
	type ctxKey struct{}
	fixed := time.Unix(1700000000, 0)
	src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
		URL: srv.URL, BearerToken: testToken, HMACSecret: testSecret, SupportedClaims: []string{"email"},
		IncludeScope: true, IncludeSubjectSessionID: true, HTTPClient: srv.Client(),
		RequestID: func(ctx context.Context) string { s, _ := ctx.Value(ctxKey{}).(string); return s },
		Now:       func() time.Time { return fixed },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(t.Context(), ctxKey{}, "req-42")
	_, err = src.Claims(ctx, plugin.ClaimsRequest{
		Issuer: "https://op.example.com", Subject: "alice", Claims: []string{"email"},
		Transport: oauth.ClaimsTransportIDToken, Scope: []string{"openid", "email"},
		ClaimsData: map[string]any{"ip": "192.0.2.1"}, SubjectSessionID: "sid-1", ClientID: "c1",
	})
	if err != nil {
		t.Fatalf("Claims: %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	wantBody := map[string]any{
		"iss": "https://op.example.com", "sub": "alice", "claims": []any{"email"}, "claims_transport": "id_token",
		"claims_data": map[string]any{"ip": "192.0.2.1"}, "scope": []any{"openid", "email"}, "sub_sid": "sid-1",
	}
	if diff := cmp.Diff(wantBody, rec.body); diff != "" {
		t.Errorf("hook body (-want +got):\n%s", diff)
	}
	for h, want := range map[string]string{
		"Authorization":         "Bearer " + testToken,
		"Content-Type":          "application/json",
		webhook.HeaderTimestamp: "1700000000",
		webhook.HeaderRequestID: "req-42",
		webhook.HeaderSignature: webhook.Sign(testSecret, "1700000000", []byte(rec.rawBody)),
	} {
		if got := rec.header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if !webhook.SignatureValid(testSecret, "1700000000", rec.rawBody, rec.header.Get(webhook.HeaderSignature)) {
		t.Error("SignatureValid rejects the signature the source sent")
	}
}

func TestOptionalFieldsOmitted(t *testing.T) {
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" || r.Header.Get(webhook.HeaderSignature) != "" {
			t.Errorf("unexpected auth headers %v", r.Header)
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{URL: srv.URL, SupportedClaims: []string{"*"}, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "a", Claims: []string{"x"}, Scope: []string{"openid"}, SubjectSessionID: "sid"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"scope", "sub_sid"} {
		if _, ok := body[k]; ok {
			t.Errorf("body has %q although not enabled", k)
		}
	}
}

func TestResponseHandling(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", webhook.MaxResponseBytes) + `"}`
	tests := []struct {
		name            string
		status          int
		body            string
		delay           time.Duration
		redirect        bool
		want            map[string]any
		wantUnavailable bool
		wantErr         string
	}{
		{name: "ok filters unrequested", status: 200, body: `{"sub":"alice","email":"a@x","other":1}`, want: map[string]any{"email": "a@x"}},
		{name: "ok without sub", status: 200, body: `{"email":"a@x"}`, want: map[string]any{"email": "a@x"}},
		{name: "404 is unknown subject", status: 404, body: `not json`, want: map[string]any{}},
		{name: "sub mismatch", status: 200, body: `{"sub":"mallory","email":"a@x"}`, wantErr: "sub does not match"},
		{name: "sub not a string", status: 200, body: `{"sub":1}`, wantErr: "sub does not match"},
		{name: "bad json", status: 200, body: `{"email":`, wantErr: "decode"},
		{name: "array", status: 200, body: `["email"]`, wantErr: "decode"},
		{name: "null", status: 200, body: `null`, wantErr: "not a JSON object"},
		{name: "trailing data", status: 200, body: `{"email":"a"}{}`, wantErr: "trailing"},
		{name: "too large", status: 200, body: big, wantErr: "larger than"},
		{name: "400", status: 400, body: `{"error":"invalid_request"}`, wantErr: "status 400"},
		{name: "503", status: 503, body: `busy`, wantUnavailable: true},
		{name: "timeout", status: 200, body: `{}`, delay: time.Second, wantUnavailable: true},
		{name: "redirect not followed", redirect: true, wantErr: "status 302"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.redirect {
					if r.URL.Path == "/elsewhere" {
						t.Error("redirect was followed")
					}
					http.Redirect(w, r, "/elsewhere", http.StatusFound)
					return
				}
				if tc.delay > 0 {
					select {
					case <-time.After(tc.delay):
					case <-r.Context().Done():
						return
					}
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			// No HTTPClient: exercises the source's own client (which must
			// not follow redirects).
			timeout := time.Duration(0) // default
			if tc.delay > 0 {
				timeout = tc.delay / 10
			}
			src, err := webhook.NewClaimsSource(webhook.ClaimsSourceConfig{
				URL: srv.URL, SupportedClaims: []string{"*"}, Timeout: timeout,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", Claims: []string{"email", "sub"}})
			switch {
			case tc.wantUnavailable:
				if !errors.Is(err, oauth.TemporarilyUnavailable("")) {
					t.Fatalf("err = %v, want temporarily_unavailable", err)
				}
				if tc.delay > 0 && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("timeout err = %v, want it to wrap context.DeadlineExceeded", err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Claims: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("claims (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestSignatureValid(t *testing.T) {
	body := `{"sub":"alice"}`
	good := webhook.Sign(testSecret, "1700000000", []byte(body))
	other := webhook.Sign([]byte("old-secret"), "1700000000", []byte(body))
	tests := []struct {
		name, ts, body, header string
		want                   bool
	}{
		{name: "valid", ts: "1700000000", body: body, header: good, want: true},
		{name: "rotation list", ts: "1700000000", body: body, header: other + ", " + good, want: true},
		{name: "wrong secret", ts: "1700000000", body: body, header: other},
		{name: "body changed", ts: "1700000000", body: `{"sub":"mallory"}`, header: good},
		{name: "timestamp changed", ts: "1700000001", body: body, header: good},
		{name: "no version prefix", ts: "1700000000", body: body, header: strings.TrimPrefix(good, "v1=")},
		{name: "other version", ts: "1700000000", body: body, header: "v2=" + strings.TrimPrefix(good, "v1=")},
		{name: "empty", ts: "1700000000", body: body, header: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := webhook.SignatureValid(testSecret, tc.ts, tc.body, tc.header); got != tc.want {
				t.Errorf("SignatureValid = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzDecodeClaimsResponse(f *testing.F) {
	f.Add([]byte(`{"sub":"alice","email":"a@x","address":{"country":"NL"}}`), "alice")
	f.Add([]byte(`{"sub":1}`), "alice")
	f.Add([]byte(`null`), "")
	f.Add([]byte(`{"email":"a"} x`), "alice")
	f.Fuzz(func(t *testing.T, data []byte, sub string) {
		got, err := webhook.DecodeClaimsResponse(data, sub, []string{"email", "sub", "address"})
		if err != nil {
			return
		}
		if _, ok := got["sub"]; ok {
			t.Fatal("sub returned as a claim")
		}
		for k := range got {
			if k != "email" && k != "address" {
				t.Fatalf("unrequested claim %q returned", k)
			}
		}
	})
}
