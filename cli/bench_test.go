package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

// TestBenchCommand runs `keyward bench` against an in-process server: the
// table on stdout, the JSON file, the API token read from the data
// directory, and usage errors.
func TestBenchCommand(t *testing.T) {
	const token = "cli-bench-api-token-0123456789abcdefghij"
	n := testnode.Start(t, server.Options{}, func(c *config.Config) { c.APIToken = token })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api-token"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "out.json")
	out, _, err := runCmd(t, "", "bench", "-url", n.Issuer, "-data-dir", dir, "-c", "2", "-d", "300ms", "-q",
		"-ceiling", "0", "-json", jsonPath, "discovery", "cc-jwt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"discovery", "cc-jwt", "ops/s", "load average"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Results []struct {
			Scenario string `json:"scenario"`
			Ops      int64  `json:"ops"`
		} `json:"results"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || len(rep.Results) != 2 || rep.Results[1].Scenario != "cc-jwt" || rep.Results[1].Ops == 0 {
		t.Errorf("JSON: %v %s", err, raw)
	}

	if _, _, err := runCmd(t, "", "bench", "-c", "0"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-c 0: %v, want a usage error", err)
	}
	if _, _, err := runCmd(t, "", "bench", "-url", n.Issuer, "-data-dir", t.TempDir(), "discovery"); err == nil || !strings.Contains(err.Error(), "no API token") {
		t.Errorf("no token anywhere: %v", err)
	}
	if _, _, err := runCmd(t, "", "bench", "-url", n.Issuer, "-token", token, "nonsense"); err == nil || !strings.Contains(err.Error(), `unknown scenario "nonsense"`) {
		t.Errorf("unknown scenario: %v", err)
	}
}
