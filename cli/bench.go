package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/bench"
)

const benchUsage = `usage: keyward bench [flags] [scenario ...]

Loads a running Keyward server and reports throughput, latency and errors
per scenario (docs/performance.md). Scenarios: %s
(default: %s; cc-opaque needs the server configured for opaque
client-credentials tokens). The server's rate limits must be raised for a
load run.

`

func runBench(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keyward bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, benchUsage, strings.Join(bench.Scenarios, ", "), strings.Join(bench.DefaultScenarios, ", "))
		fs.PrintDefaults()
	}
	base := fs.String("url", "http://localhost:8080", "the server's issuer URL")
	token := fs.String("token", "", "the API token (default $KEYWARD_API_TOKEN, else the api-token file of -data-dir)")
	dataDir := fs.String("data-dir", "./keyward-data", "the server's data directory, to read a generated API token from")
	conc := fs.Int("c", 16, "concurrency: workers (closed loop) or most requests in flight (open loop)")
	dur := fs.Duration("d", 10*time.Second, "duration of each scenario")
	rate := fs.Float64("rate", 0, "open loop at this many operations per second (0: closed loop)")
	pid := fs.Int("pid", 0, "the server's process ID, for its CPU time, throughput per core and memory")
	ceiling := fs.Duration("ceiling", 2*time.Second, "how long to measure each signing ceiling (0: skip)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file (- for stdout instead of the table)")
	quiet := fs.Bool("q", false, "no progress lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conc <= 0 || *dur <= 0 || *rate < 0 || *ceiling < 0 {
		return fmt.Errorf("bench: -c and -d must be positive, -rate and -ceiling not negative: %w", flag.ErrHelp)
	}
	tok := *token
	if tok == "" {
		tok = envValue(environ, "KEYWARD_API_TOKEN")
	}
	if tok == "" {
		raw, err := os.ReadFile(*dataDir + "/api-token")
		if err != nil {
			return fmt.Errorf("bench: no API token: give -token, set KEYWARD_API_TOKEN or point -data-dir at the server's data directory (%w)", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	cfg := bench.Config{
		BaseURL: *base, APIToken: tok, Scenarios: fs.Args(), Concurrency: *conc, Duration: *dur,
		Rate: *rate, PID: *pid, CeilingDuration: *ceiling, Progress: stderr,
	}
	if *ceiling == 0 {
		cfg.CeilingDuration = -1
	}
	if *quiet {
		cfg.Progress = nil
	}
	rep, err := bench.Run(ctx, cfg)
	if rep != nil && len(rep.Results) > 0 {
		if *jsonOut != "-" {
			if werr := rep.WriteText(stdout); werr != nil {
				err = errors.Join(err, werr)
			}
		}
		if *jsonOut != "" {
			err = errors.Join(err, writeJSON(*jsonOut, rep, stdout))
		}
	}
	return err
}

func writeJSON(path string, rep *bench.Report, stdout io.Writer) error {
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	raw = append(raw, '\n')
	if path == "-" {
		_, err = stdout.Write(raw)
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func envValue(environ []string, key string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}
