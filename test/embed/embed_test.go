package embed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/testnode"
)

// The demo client that `serve --demo` registers (see server.DemoClientID).
const (
	demoClientID     = "demo"
	demoClientSecret = "demo-secret-for-local-testing-only-0123456789"
	demoRedirect     = "http://127.0.0.1:9999/callback"
	apiToken         = "embed-test-api-token-0123456789abcdef"
)

// TestEmbedFavouriteColour builds examples/embed as a module of its own and
// reads the claim its Go claims source adds back from UserInfo.
func TestEmbedFavouriteColour(t *testing.T) {
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "embed"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "keyward-embed")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = example
	// The example is its own module: no workspace may stitch it to this one.
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build examples/embed as its own module: %v\n%s", err, out)
	}

	// Same command line as keyward: `version` and a usage error.
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "keyward ") {
		t.Errorf("keyward-embed version: %q %v", out, err)
	}
	if err := exec.Command(bin, "frobnicate").Run(); err == nil {
		t.Error("keyward-embed accepted an unknown command")
	}

	issuer := startServer(t, bin, filepath.Join(example, "keyward.yaml"))
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{
		ClientID: demoClientID, ClientSecret: demoClientSecret, RedirectURL: demoRedirect,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID},
	}
	verifier := oauth2.GenerateVerifier()
	authURL, err := url.Parse(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("claims", `{"userinfo":{"favourite_colour":{"essential":true}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	code := signIn(t, issuer, authURL.RawQuery)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: demoClientID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token: %v", err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims map[string]any
	if err := info.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["favourite_colour"] != "teal" || claims["sub"] != "alice" {
		t.Errorf("userinfo = %v, want sub alice and favourite_colour teal", claims)
	}
}

// signIn plays the login UI over the authorisation session API: start the
// session, authenticate alice, consent to the requested claims; it returns
// the code from the final redirect.
func signIn(t *testing.T, issuer, query string) string {
	t.Helper()
	api := issuer + "/authz-sessions/rest/v3"
	msg := callAPI(t, "POST", api, map[string]any{"query": query})
	if msg["type"] != "auth" {
		t.Fatalf("start: %v", msg)
	}
	sid := msg["sid"].(string)
	msg = callAPI(t, "PUT", api+"/"+sid, map[string]any{"sub": "alice"})
	if msg["type"] != "consent" {
		t.Fatalf("authenticate: %v", msg)
	}
	claims, _ := msg["claims"].(map[string]any)
	if !strings.Contains(fmt.Sprint(claims), "favourite_colour") {
		t.Errorf("consent prompt does not list favourite_colour: %v", msg)
	}
	msg = callAPI(t, "PUT", api+"/"+sid, map[string]any{"scope": []string{"openid"}, "claims": []string{"favourite_colour"}})
	if msg["type"] != "response" {
		t.Fatalf("consent: %v", msg)
	}
	u, err := url.Parse(msg["parameters"].(map[string]any)["uri"].(string))
	if err != nil || u.Query().Get("code") == "" {
		t.Fatalf("final response: %v", msg)
	}
	return u.Query().Get("code")
}

func callAPI(t *testing.T, method, u string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	return out
}

// startServer runs `keyward-embed serve --demo` on the example's config
// file and returns its issuer once discovery answers.
func startServer(t *testing.T, bin, configFile string) string {
	t.Helper()
	issuer, _ := testnode.StartOnFreePort(t, "keyward-embed", func(addr, issuer string) *exec.Cmd {
		return exec.Command(bin, "serve", "--demo", "--config", configFile,
			"--listen", addr, "--issuer", issuer, "--data-dir", t.TempDir(), "--api-token", apiToken)
	})
	return issuer
}
