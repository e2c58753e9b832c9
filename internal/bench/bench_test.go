package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testnode"
	"github.com/keyward/keyward/server"
)

const testAPIToken = "bench-test-api-token-0123456789abcdefghij"

func startNode(t *testing.T, configure ...func(*config.Config)) *testnode.Node {
	t.Helper()
	return testnode.Start(t, server.Options{}, append([]func(*config.Config){func(c *config.Config) {
		c.APIToken = testAPIToken
		// A load run is one address and a few clients at full speed: the
		// rate limits would turn it into 429s (docs/performance.md).
		c.RateLimits = config.RateLimits{}
	}}, configure...)...)
}

// TestRunEveryScenario drives every default scenario briefly, closed loop,
// against a real in-process server on SQLite, and checks that each did
// real work without errors, with sane figures and the signing ceiling of
// the JWTs it made the server sign.
func TestRunEveryScenario(t *testing.T) {
	n := startNode(t)
	var progress bytes.Buffer
	rep, err := Run(t.Context(), Config{
		BaseURL: n.Issuer, APIToken: testAPIToken, Concurrency: 2, Duration: 1200 * time.Millisecond,
		CeilingDuration: 100 * time.Millisecond, Progress: &progress,
		PID: os.Getpid(), // the server runs in this process
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(DefaultScenarios) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(DefaultScenarios))
	}
	for i, res := range rep.Results {
		if res.Scenario != DefaultScenarios[i] {
			t.Errorf("result %d is %s, want %s", i, res.Scenario, DefaultScenarios[i])
		}
		if res.Ops == 0 || res.PerSecond <= 0 {
			t.Errorf("%s: no successful operation: %+v", res.Scenario, res)
		}
		if len(res.Errors) > 0 {
			t.Errorf("%s: errors %v", res.Scenario, res.Errors)
		}
		l := res.Latency
		if !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
			t.Errorf("%s: latency percentiles out of order: %+v", res.Scenario, l)
		}
		if res.ServerCPUSeconds <= 0 || res.PerServerCore <= 0 || res.ServerRSSAfterKB <= 0 {
			t.Errorf("%s: no CPU or memory figures with a PID: %+v", res.Scenario, res)
		}
	}
	byName := map[string]Result{}
	for _, r := range rep.Results {
		byName[r.Scenario] = r
	}
	// Default keys: access tokens ES256, ID tokens RS256 with 2048 bits.
	for name, want := range map[string]string{"cc-jwt": "ES256", "authcode": "RS256-2048,ES256", "discovery": "", "userinfo": ""} {
		if got := strings.Join(byName[name].Signatures, ","); got != want {
			t.Errorf("%s signs %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"cc-jwt", "authcode"} {
		r := byName[name]
		if r.Ceiling <= 0 || r.CeilingRatio <= 0 {
			t.Errorf("%s: no signing ceiling: %+v", name, r)
		}
	}
	if rep.Ceilings["ES256"] <= rep.Ceilings["RS256-2048"] {
		t.Errorf("ES256 signs slower than RS256-2048? %v", rep.Ceilings)
	}
	if !strings.Contains(progress.String(), "authcode") || !strings.Contains(progress.String(), "ok") {
		t.Errorf("no progress lines: %q", progress.String())
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{"ops/s/core", "RS256-2048"}, DefaultScenarios...) {
		if !strings.Contains(text.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, text.String())
		}
	}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(raw, &back); err != nil || len(back.Results) != len(rep.Results) || back.LoadAvg == "" {
		t.Errorf("JSON round trip: %v %s", err, raw)
	}
}

// TestOpenLoop: at a fixed rate the bench sends about rate × duration
// operations whatever the concurrency.
func TestOpenLoop(t *testing.T) {
	n := startNode(t)
	rep, err := Run(t.Context(), Config{
		BaseURL: n.Issuer, APIToken: testAPIToken, Scenarios: []string{"cc-jwt"}, Concurrency: 4,
		Duration: time.Second, Rate: 50, CeilingDuration: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Results[0]
	if r.Mode != "open" || r.TargetRate != 50 {
		t.Errorf("mode %s rate %v", r.Mode, r.TargetRate)
	}
	if r.Ops < 40 || r.Ops > 51 {
		t.Errorf("%d operations at 50/s for 1 s", r.Ops)
	}
	if r.Ceiling != 0 {
		t.Errorf("ceiling measured though skipped: %v", r.Ceiling)
	}
}

// TestOpaqueClientCredentials: cc-opaque runs against a server issuing
// opaque tokens and is refused, naming the setting, against one issuing
// JWTs; cc-jwt likewise the other way round.
func TestOpaqueClientCredentials(t *testing.T) {
	jwtNode := startNode(t)
	rep, err := Run(t.Context(), Config{BaseURL: jwtNode.Issuer, APIToken: testAPIToken, Scenarios: []string{"cc-opaque", "discovery"},
		Duration: 100 * time.Millisecond, CeilingDuration: -1})
	if err == nil || !strings.Contains(err.Error(), "access_token_encoding: IDENTIFIER") {
		t.Errorf("cc-opaque against a JWT server: %v", err)
	}
	// The refused scenario is reported; the next one still runs.
	if len(rep.Results) != 2 || rep.Results[0].SetupError == "" || rep.Results[1].Ops == 0 {
		t.Errorf("results after a refused scenario: %+v", rep.Results)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "cc-opaque  not run: the server issues JWT") {
		t.Errorf("table does not say why cc-opaque did not run:\n%s", text.String())
	}
	opaque := startNode(t, func(c *config.Config) { c.Tokens.AccessTokenEncoding = "IDENTIFIER" })
	rep, err = Run(t.Context(), Config{BaseURL: opaque.Issuer, APIToken: testAPIToken, Scenarios: []string{"cc-opaque"},
		Concurrency: 2, Duration: 300 * time.Millisecond, CeilingDuration: -1})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Ops == 0 || len(r.Errors) > 0 || len(r.Signatures) != 0 {
		t.Errorf("cc-opaque: %+v", r)
	}
	_, err = Run(t.Context(), Config{BaseURL: opaque.Issuer, APIToken: testAPIToken, Scenarios: []string{"cc-jwt"}, Duration: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "SELF_CONTAINED") {
		t.Errorf("cc-jwt against an opaque server: %v", err)
	}
}

// TestRefusals: what the bench cannot run is refused before any load.
func TestRefusals(t *testing.T) {
	n := startNode(t)
	for name, cfg := range map[string]Config{
		"unknown scenario": {BaseURL: n.Issuer, APIToken: testAPIToken, Scenarios: []string{"cc"}},
		"no token":         {BaseURL: n.Issuer},
		"wrong token":      {BaseURL: n.Issuer, APIToken: "wrong-token-0123456789abcdefghijklmnop", Scenarios: []string{"cc-jwt"}},
	} {
		if _, err := Run(t.Context(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestCPUSecondsOfThisProcess compares the /proc reading with getrusage
// over a stretch of spinning (CPU time, not wall time: the machine may be
// busy).
func TestCPUSecondsOfThisProcess(t *testing.T) {
	rusage := func() float64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	a, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	ra := rusage()
	for rusage()-ra < 0.3 {
	}
	b, _ := cpuSeconds(os.Getpid())
	rb := rusage()
	if got, want := b-a, rb-ra; got < want-0.05 || got > want+0.05 {
		t.Errorf("/proc counted %.2f s of CPU, getrusage %.2f s", got, want)
	}
	if _, err := cpuSeconds(0); err == nil {
		t.Error("pid 0 accepted")
	}
	if kb, err := rssKB(os.Getpid()); err != nil || kb < 1000 {
		t.Errorf("rss %d kB, %v", kb, err)
	}
}
