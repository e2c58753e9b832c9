package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testlog"
	"github.com/keyward/keyward/plugin/users"
)

func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = Run(t.Context(), Options{}, args, nil, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestVersionAndUsage(t *testing.T) {
	out, _, err := runCmd(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "keyward ") {
		t.Errorf("version: %q %v", out, err)
	}
	if _, _, err := runCmd(t, ""); !errors.Is(err, errHelp()) {
		t.Errorf("no command: err = %v, want flag.ErrHelp", err)
	}
	if _, _, err := runCmd(t, "", "frobnicate"); err == nil {
		t.Error("unknown command accepted")
	}
}

// A config file with four mistakes gets one report naming all four, one
// line each with its key, its value and what is allowed, and nothing is
// created (not even the data directory).
func TestBadConfigurationNamesEveryProblem(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	file := filepath.Join(dir, "keyward.yaml")
	os.WriteFile(file, []byte(`issuer: https://op.example/
data_dir: `+data+`
tokens:
  access_token_lifetime: 10 minutes
logout:
  revoke_tokens: sometimes
sesions:
  max_life: 1h
`), 0o600)
	_, _, err := runCmd(t, "", "serve", "--config", file, "--store", "mysql://y")
	if err == nil {
		t.Fatal("serve accepted a bad configuration")
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "config: 5 problems:" {
		t.Errorf("heading %q, want the count of problems", lines[0])
	}
	for _, want := range [][]string{
		{"issuer", `"https://op.example/"`, `use "https://op.example"`},
		{"tokens.access_token_lifetime", `"10 minutes"`, `"10m"`},
		{"logout.revoke_tokens", `"sometimes"`, "online, all or none"},
		{"sesions", "unknown key"},
		{"store", `"mysql://y"`, "postgres://"},
	} {
		found := false
		for _, l := range lines[1:] {
			ok := strings.HasPrefix(strings.TrimSpace(l), want[0])
			for _, w := range want[1:] {
				ok = ok && strings.Contains(l, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("no line with %q in:\n%s", want, err)
		}
	}
	if len(lines) != 6 {
		t.Errorf("%d lines, want a heading and 5 problems:\n%s", len(lines), err)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("the data directory was created despite the errors")
	}
}

func TestClientAndKeysCommands(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runCmd(t, "", "client", "list", "--data-dir", dir); err == nil || !strings.Contains(err.Error(), "keyward init") {
		t.Fatalf("client list on a fresh data dir: %v, want a refusal naming keyward init", err)
	}
	if out, _, err := runCmd(t, "", "init", "--data-dir", dir); err != nil || !strings.Contains(out, "5 key(s) (signing and encryption)") {
		t.Fatalf("init: %q %v", out, err)
	}
	out, _, err := runCmd(t, "", "client", "create", "--data-dir", dir, "--name", "Shop",
		"--redirect-uri", "https://shop.example/cb", "--id", "shop")
	if err != nil {
		t.Fatalf("client create: %v", err)
	}
	var reg map[string]any
	if err := json.Unmarshal([]byte(out), &reg); err != nil || reg["client_id"] != "shop" || reg["client_secret"] == "" {
		t.Fatalf("client create printed %q", out)
	}
	if _, _, err := runCmd(t, "", "client", "create", "--data-dir", dir, "--name", "Bad", "--redirect-uri", "javascript:alert(1)"); err == nil {
		t.Error("client create accepted a javascript: redirect URI")
	}
	out, _, err = runCmd(t, "", "client", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "shop\tShop") {
		t.Errorf("client list: %q %v", out, err)
	}
	out, _, err = runCmd(t, "", "client", "get", "--data-dir", dir, "shop")
	if err != nil || strings.Contains(out, reg["client_secret"].(string)) {
		t.Errorf("client get: err %v; the secret must not be shown again", err)
	}
	if _, _, err := runCmd(t, "", "client", "delete", "--data-dir", dir, "shop"); err != nil {
		t.Errorf("client delete: %v", err)
	}
	if _, _, err := runCmd(t, "", "client", "get", "--data-dir", dir, "shop"); err == nil {
		t.Error("client get after delete succeeded")
	}

	before, _, err := runCmd(t, "", "keys", "list", "--data-dir", dir)
	// Three signing keys and two encryption keys (RSA-OAEP-256, ECDH-ES).
	if err != nil || strings.Count(before, "  active\n") != 5 {
		t.Fatalf("keys list: %q %v", before, err)
	}
	after, _, err := runCmd(t, "", "keys", "rotate", "--data-dir", dir)
	if err != nil || strings.Count(after, "  active\n") != 5 || strings.Count(after, "  retired ") != 5 {
		t.Errorf("keys rotate: %q %v", after, err)
	}
	info, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("master.key: %v mode %v, want 0600", err, info.Mode())
	}
}

func TestHashPassword(t *testing.T) {
	out, _, err := runCmd(t, "correct horse\n", "hash-password")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := users.VerifyPassword(strings.TrimSpace(out), "correct horse")
	if err != nil || !ok {
		t.Errorf("hash %q does not verify: %v", out, err)
	}
	if _, _, err := runCmd(t, "", "hash-password"); err == nil {
		t.Error("an empty password was hashed")
	}
}

// TestServeStartsAndStopsCleanly runs serve until its context ends, as
// SIGINT/SIGTERM end it in main.
func TestServeStartsAndStopsCleanly(t *testing.T) {
	for range 5 {
		if serveOnce(t) {
			return
		}
	}
	t.Fatal("no free port in 5 tries")
}

// serveOnce reports false when a parallel test took the chosen port before
// serve could bind it.
func serveOnce(t *testing.T) bool {
	dir := t.TempDir()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, errb := &testlog.Buffer{}, &testlog.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{}, []string{"serve", "--demo", "--listen", addr, "--issuer", "http://" + addr, "--data-dir", dir},
			nil, strings.NewReader(""), out, errb)
	}()
	up := false
	for range 200 {
		select {
		case err := <-done:
			if err != nil && strings.Contains(err.Error(), "address already in use") {
				return false
			}
			t.Fatalf("serve ended early: %v\n%s", err, errb.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/jwks.json"); err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !up {
		t.Fatalf("server did not come up:\n%s", errb.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	token, err := os.ReadFile(filepath.Join(dir, "api-token"))
	if err != nil || !strings.Contains(out.String(), strings.TrimSpace(string(token))) {
		t.Errorf("the generated API token was not printed once on stdout")
	}
	for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	return true
}

func errHelp() error { return flag.ErrHelp }
