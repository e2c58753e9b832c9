package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/simple"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/plugin/webhook"
)

func sampleTokens() simple.Tokens {
	t := plugintest.SampleTokens()
	return simple.Tokens{Audience: t.Audience, AccessTokenLifetime: t.AccessToken.Lifetime, AccessTokenEncoding: t.AccessToken.Encoding}
}

// grantHook serves impl through plugintest.GrantHook and returns the web
// hook handler pointed at it.
func grantHook(t *testing.T, impl any) *webhook.GrantHandler {
	t.Helper()
	srv := httptest.NewServer(plugintest.GrantHook(t, impl, plugintest.ClaimsHookOptions{BearerToken: testToken, HMACSecret: testSecret}))
	t.Cleanup(srv.Close)
	// A generous timeout: the password cases hash argon2id in parallel,
	// which is slow under the race detector; timeouts are tested apart.
	h, err := webhook.NewGrantHandler(webhook.GrantHandlerConfig{
		URL: srv.URL, BearerToken: testToken, HMACSecret: testSecret, HTTPClient: srv.Client(), Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestGrantContractParity runs each grant handler contract against the
// built-in handler and against the web hook wrapping the same handler.
func TestGrantContractParity(t *testing.T) {
	t.Run("client credentials", func(t *testing.T) {
		impl := simple.ClientCredentials{Tokens: sampleTokens()}
		cases := plugintest.SampleClientCredentialsCases()
		t.Run("simple", func(t *testing.T) { plugintest.ClientCredentialsHandler(t, impl, cases) })
		t.Run("webhook", func(t *testing.T) { plugintest.ClientCredentialsHandler(t, grantHook(t, impl), cases) })
	})
	t.Run("jwt bearer", func(t *testing.T) {
		impl := simple.JWTBearer{Tokens: sampleTokens()}
		cases := plugintest.SampleAssertionCases(oauth.GrantTypeJWTBearer)
		t.Run("simple", func(t *testing.T) { plugintest.JWTBearerHandler(t, impl, cases) })
		t.Run("webhook", func(t *testing.T) { plugintest.JWTBearerHandler(t, grantHook(t, impl), cases) })
	})
	t.Run("saml2 bearer", func(t *testing.T) {
		impl := simple.SAML2Bearer{Tokens: sampleTokens()}
		cases := plugintest.SampleAssertionCases(oauth.GrantTypeSAML2Bearer)
		t.Run("simple", func(t *testing.T) { plugintest.SAML2BearerHandler(t, impl, cases) })
		t.Run("webhook", func(t *testing.T) { plugintest.SAML2BearerHandler(t, grantHook(t, impl), cases) })
	})
	t.Run("password", func(t *testing.T) {
		hash, err := users.HashPassword("correct horse")
		if err != nil {
			t.Fatal(err)
		}
		dir, err := users.New([]users.User{{Sub: "u-7", Username: "carol", Password: hash}})
		if err != nil {
			t.Fatal(err)
		}
		fx := plugintest.PasswordFixture{Username: "carol", Password: "correct horse", Subject: "u-7", UnknownUsername: "mallory"}
		newImpl := func(t *testing.T) *users.PasswordHandler {
			h, err := users.NewPasswordHandler(dir, users.PasswordOptions{Tokens: sampleTokens()})
			if err != nil {
				t.Fatal(err)
			}
			return h
		}
		cases := plugintest.SamplePasswordCases(fx)
		t.Run("users", func(t *testing.T) { plugintest.PasswordHandler(t, newImpl(t), cases) })
		t.Run("webhook", func(t *testing.T) { plugintest.PasswordHandler(t, grantHook(t, newImpl(t)), cases) })
	})
}

func TestGrantHookRequestShape(t *testing.T) {
	var got string
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, hdr = string(b), r.Header.Clone()
		io.WriteString(w, `{"sub":"alice","scope":["read"]}`)
	}))
	t.Cleanup(srv.Close)
	fixed := time.Unix(1700000000, 0)
	h, err := webhook.NewGrantHandler(webhook.GrantHandlerConfig{URL: srv.URL, BearerToken: testToken, HMACSecret: testSecret,
		HTTPClient: srv.Client(), Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.HandlePassword(t.Context(), plugin.PasswordRequest{
		GrantRequest: plugin.GrantRequest{Issuer: "https://op", GrantType: "password", Client: plugin.Client{ID: "c1", Confidential: true},
			Scope: []string{"read"}, Params: map[string][]string{"x": {"1"}}},
		Username: "alice", Password: "pw",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"iss":"https://op","grant_type":"password","client":{"client_id":"c1","confidential":true},"scope":["read"],"params":{"x":["1"]},"username":"alice","password":"pw"}`
	if got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if hdr.Get("Authorization") != "Bearer "+testToken || !webhook.SignatureValid(testSecret, "1700000000", got, hdr.Get(webhook.HeaderSignature)) {
		t.Errorf("missing bearer token or bad signature: %v", hdr)
	}
}

// TestGrantHookAnswers checks how hook answers map to results and errors.
func TestGrantHookAnswers(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		delay    time.Duration
		wantCode string // OAuth error code; "" with wantPlain for a plain error
		wantHTTP int
		plain    bool
	}{
		{name: "invalid_grant", status: 400, body: `{"error":"invalid_grant","error_description":"no such user"}`, wantCode: "invalid_grant", wantHTTP: 400},
		{name: "invalid_scope 403", status: 403, body: `{"error":"invalid_scope"}`, wantCode: "invalid_scope", wantHTTP: 400},
		{name: "invalid_client", status: 401, body: `{"error":"invalid_client"}`, wantCode: "invalid_client", wantHTTP: 401},
		{name: "4xx without error", status: 404, body: `not found`, plain: true},
		{name: "500", status: 500, body: `{}`, wantCode: "temporarily_unavailable", wantHTTP: 503},
		{name: "503", status: 503, body: ``, wantCode: "temporarily_unavailable", wantHTTP: 503},
		{name: "timeout", status: 200, body: `{"sub":"a"}`, delay: time.Minute, wantCode: "temporarily_unavailable", wantHTTP: 503},
		{name: "unknown member", status: 200, body: `{"sub":"a","surprise":1}`, plain: true},
		{name: "long_lived refused", status: 200, body: `{"sub":"a","long_lived":true}`, plain: true},
		{name: "encrypt refused", status: 200, body: `{"sub":"a","access_token":{"encrypt":true}}`, plain: true},
		{name: "oversized", status: 200, body: `{"sub":"` + strings.Repeat("a", webhook.MaxResponseBytes) + `"}`, plain: true},
		{name: "trailing data", status: 200, body: `{"sub":"a"}{}`, plain: true},
		{name: "redirect", status: 302, body: ``, plain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.delay > 0 {
					select {
					case <-time.After(tc.delay):
					case <-release:
						return
					}
				}
				if tc.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example.com/")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			defer close(release)        // before Close, which waits for the handler
			timeout := 10 * time.Second // ample for a 1 MiB answer under the race detector
			if tc.delay > 0 {
				timeout = 200 * time.Millisecond
			}
			h, err := webhook.NewGrantHandler(webhook.GrantHandlerConfig{URL: srv.URL, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			a, err := h.HandleClientCredentials(context.Background(), plugin.GrantRequest{Client: plugin.Client{ID: "c"}})
			if err == nil {
				t.Fatalf("got %+v, want an error", a)
			}
			oe := oauth.AsError(err)
			if tc.plain {
				if oe != nil {
					t.Fatalf("err = %v, want a plain error (server_error)", err)
				}
				return
			}
			if oe == nil || oe.Code != tc.wantCode || oe.Status != tc.wantHTTP {
				t.Fatalf("err = %#v, want %s (%d)", err, tc.wantCode, tc.wantHTTP)
			}
		})
	}
}

func TestGrantHookDecodes(t *testing.T) {
	a, err := webhook.DecodeGrantAuthorization([]byte(`{"sub":"alice","scope":["a","b"],"audience":["https://api"],
		"access_token":{"lifetime":60,"encoding":"IDENTIFIER"},"refresh_token":{"issue":true,"lifetime":3600,"max_idle":600,"rotate":true},
		"id_token":{"issue":true,"lifetime":120},"claims":["email"],"claims_locales":["de"],
		"preset_claims":{"id_token":{"x":1},"userinfo":{"y":2}},"claims_data":{"z":3},"data":{"w":4}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Subject != "alice" || a.AccessToken.Lifetime != time.Minute || a.AccessToken.Encoding != "IDENTIFIER" ||
		!a.RefreshToken.Issue || a.RefreshToken.MaxIdle != 10*time.Minute || !a.RefreshToken.Rotate || a.IDToken.Lifetime != 2*time.Minute ||
		a.PresetIDTokenClaims["x"] != float64(1) || a.PresetUserInfoClaims["y"] != float64(2) || a.Data["w"] != float64(4) {
		t.Errorf("decoded %+v", a)
	}
	if _, err := webhook.DecodeGrantAuthorization([]byte(`{"access_token":{"lifetime":-1}}`)); err == nil {
		t.Error("negative lifetime accepted")
	}
}

func TestGrantHookCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	h, err := webhook.NewGrantHandler(webhook.GrantHandlerConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = h.HandleClientCredentials(ctx, plugin.GrantRequest{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzDecodeGrantAuthorization(f *testing.F) {
	f.Add([]byte(`{"sub":"alice","scope":["a"],"access_token":{"lifetime":60}}`))
	f.Add([]byte(`{"refresh_token":{"lifetime":9223372036854775807}}`))
	f.Add([]byte(`{"error":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		webhook.DecodeGrantAuthorization(data)
		err := webhook.DecodeGrantError(data, 400)
		if err == nil {
			t.Fatal("nil error")
		}
	})
}
