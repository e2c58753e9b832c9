package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyward config check reports every problem of a file at once, each with
// its key, and exits non-zero; a good file is "ok".
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`
listen: nope
issuer: ftp://x
frobnicate: true
tokens:
  access_token_lifetime: banana
  bogus: 1
sessions:
  quota_per_subject: 0
`), 0o600)
	out, _, err := runCmd(t, "", "config", "check", bad)
	if err == nil {
		t.Fatalf("config check accepted a bad file:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, key := range []string{"listen", "issuer", "frobnicate", "tokens.access_token_lifetime",
		"tokens.bogus", "sessions.quota_per_subject"} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, bad+": "+key) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starting with key %q in:\n%s", key, out)
		}
	}
	if len(lines) != 6 {
		t.Errorf("got %d lines, want one per problem (6):\n%s", len(lines), out)
	}

	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("issuer: https://op.example\ntokens:\n  access_token_lifetime: 5m\n"), 0o600)
	if out, _, err := runCmd(t, "", "config", "check", good); err != nil || out != good+": ok\n" {
		t.Errorf("good file: %q %v", out, err)
	}
	if _, _, err := runCmd(t, "", "config", "check", filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	if _, _, err := runCmd(t, "", "config", "check"); !errors.Is(err, errHelp()) {
		t.Errorf("no file: err = %v, want a usage error", err)
	}
	if _, _, err := runCmd(t, "", "config", "lint", good); !errors.Is(err, errHelp()) {
		t.Errorf("unknown subcommand: err = %v, want a usage error", err)
	}
}
