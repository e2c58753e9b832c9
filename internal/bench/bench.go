// Package bench is the load generator behind `keyward bench`
// (docs/performance.md): it registers its own clients through the
// registration API of a running Keyward, drives one scenario at a time
// for a fixed duration, closed loop (a fixed number of workers, each
// sending its next request when the last one answered) or open loop (a
// fixed request rate, latency counted from when a request was due, so a
// slow server cannot hide its queue), and reports throughput, latency
// percentiles and errors by HTTP status. Given the server's PID it also
// reads the server's CPU time from /proc and reports throughput per server
// core, and it measures the signing ceiling — JWTs per second one core
// signs with the server's own signing code, for the algorithms and key
// sizes the server used — so that a run says how close the server comes
// to the cost it cannot avoid.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenarios are the scenario names in the order Run runs them.
var Scenarios = []string{"discovery", "jwks", "cc-jwt", "cc-opaque", "authcode", "refresh", "introspect", "userinfo"}

// DefaultScenarios run when none is named: cc-opaque needs the server
// configured for it (grants.client_credentials.access_token_encoding:
// IDENTIFIER), so it runs only when asked for.
var DefaultScenarios = []string{"discovery", "jwks", "cc-jwt", "authcode", "refresh", "introspect", "userinfo"}

// Config is one benchmark run.
type Config struct {
	// BaseURL is the server's issuer URL (its discovery document is read
	// from BaseURL/.well-known/openid-configuration).
	BaseURL string
	// APIToken registers the bench's clients (POST /clients) and drives
	// the authorisation session API.
	APIToken string
	// Scenarios to run, in this order; DefaultScenarios when empty.
	Scenarios []string
	// Concurrency is the number of workers (closed loop) or the most
	// requests in flight (open loop); default 16.
	Concurrency int
	// Duration of each scenario; default 10 s.
	Duration time.Duration
	// Rate, when positive, runs open loop at this many operations per
	// second instead of closed loop.
	Rate float64
	// PID is the server's process ID on this machine; 0 leaves out the
	// CPU and memory figures.
	PID int
	// CeilingDuration is how long each signing ceiling is measured;
	// default 2 s, negative skips it.
	CeilingDuration time.Duration
	// Progress receives a line per second while a scenario runs; nil for
	// none.
	Progress io.Writer
	// HTTPClient is the client to load the server with; default one with
	// Concurrency idle connections kept per host.
	HTTPClient *http.Client
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Result is one scenario's figures.
type Result struct {
	Scenario    string  `json:"scenario"`
	Mode        string  `json:"mode"` // "closed" or "open"
	Concurrency int     `json:"concurrency"`
	TargetRate  float64 `json:"target_rate,omitempty"`
	Seconds     float64 `json:"seconds"`
	// Ops counts successful operations (requests, or complete flows for
	// authcode); PerSecond is Ops over Seconds.
	Ops       int64   `json:"ops"`
	PerSecond float64 `json:"per_second"`
	Latency   Latency `json:"latency"`
	// Errors counts failed operations by HTTP status ("transport" for
	// connection errors, "unexpected" for a 200 that is not what the
	// scenario needs); for authcode the key names the step too.
	Errors map[string]int64 `json:"errors,omitempty"`
	// ServerCPUSeconds is the server's user+system CPU time during the
	// scenario, and PerServerCore is Ops per second of it: throughput per
	// fully used server core. Both need Config.PID.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	PerServerCore    float64 `json:"per_server_core,omitempty"`
	CPUPerOpMS       float64 `json:"server_cpu_per_op_ms,omitempty"`
	// ServerRSSBeforeKB and ServerRSSAfterKB are the server's resident set
	// before and after the scenario.
	ServerRSSBeforeKB int64 `json:"server_rss_before_kb,omitempty"`
	ServerRSSAfterKB  int64 `json:"server_rss_after_kb,omitempty"`
	// Signatures are the JWTs the server signs per operation, as
	// "ALG" or "RS256-2048"; Ceiling is how many operations per second
	// one core could do if signing them were all it did, and
	// CeilingRatio is PerServerCore (or PerSecond without a PID) over it.
	Signatures   []string `json:"signatures,omitempty"`
	Ceiling      float64  `json:"signing_ceiling_per_core,omitempty"`
	CeilingRatio float64  `json:"ceiling_ratio,omitempty"`
	// SetupError says why the scenario did not run.
	SetupError string `json:"setup_error,omitempty"`
}

// Report is a whole run, as -json writes it.
type Report struct {
	BaseURL string    `json:"base_url"`
	Started time.Time `json:"started"`
	// LoadAvg is /proc/loadavg at the start: figures from a busy machine
	// are not comparable with a quiet one's.
	LoadAvg string `json:"loadavg"`
	// Ceilings are signatures per second on one core, by "ALG" or
	// "ALG-BITS" for RSA.
	Ceilings map[string]float64 `json:"signing_ceilings,omitempty"`
	Results  []Result           `json:"results"`
}

// Run registers the bench's clients, runs the scenarios one after the
// other and deletes the clients again.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("bench: no base URL")
	}
	if cfg.APIToken == "" {
		return nil, errors.New("bench: no API token (the registration and authorisation session APIs need it)")
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = DefaultScenarios
	}
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.CeilingDuration == 0 {
		cfg.CeilingDuration = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Transport: &http.Transport{MaxIdleConns: cfg.Concurrency * 2, MaxIdleConnsPerHost: cfg.Concurrency * 2, IdleConnTimeout: time.Minute},
			Timeout:   30 * time.Second,
		}
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	load, _ := os.ReadFile("/proc/loadavg")
	rep := &Report{BaseURL: cfg.BaseURL, Started: time.Now().UTC(), LoadAvg: strings.TrimSpace(string(load)), Ceilings: map[string]float64{}}

	t, err := newTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer t.cleanup()
	// A scenario that cannot be set up is reported and skipped; the
	// others still run, and Run returns the errors at the end.
	var failed []error
	for _, name := range cfg.Scenarios {
		sc, err := t.scenario(ctx, name)
		var res Result
		if err == nil {
			res, err = t.run(ctx, name, sc)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			failed = append(failed, fmt.Errorf("bench: %s: %w", name, err))
			rep.Results = append(rep.Results, Result{Scenario: name, SetupError: err.Error()})
			continue
		}
		if len(sc.signatures) > 0 && cfg.CeilingDuration > 0 {
			t.ceiling(ctx, &res, sc.signatures, rep.Ceilings)
		}
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, errors.Join(failed...)
}

// op is one operation of a scenario for one worker; it returns "" on
// success or the error key to count.
type op func(ctx context.Context) string

// scenario builds the per-worker operations of a scenario; worker i calls
// newOp(i) once, before the clock starts, for its own state (a refresh
// token, a subject session).
type scenario struct {
	newOp func(ctx context.Context, worker int) (op, error)
	// signatures are the JWTs one operation makes the server sign.
	signatures []signature
}

// run drives a scenario closed or open loop and collects its figures.
func (t *target) run(ctx context.Context, name string, sc *scenario) (Result, error) {
	cfg := t.cfg
	workers := cfg.Concurrency
	ops := make([]op, workers)
	for i := range ops {
		o, err := sc.newOp(ctx, i)
		if err != nil {
			return Result{}, fmt.Errorf("setting up worker %d: %w", i, err)
		}
		ops[i] = o
	}
	res := Result{Scenario: name, Mode: "closed", Concurrency: workers}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "open", cfg.Rate
	}
	var (
		mu     sync.Mutex
		lat    []time.Duration
		errs   = map[string]int64{}
		done   atomic.Int64
		failed atomic.Int64
	)
	record := func(local []time.Duration, localErrs map[string]int64) {
		mu.Lock()
		lat = append(lat, local...)
		for k, v := range localErrs {
			errs[k] += v
		}
		mu.Unlock()
	}
	cpu0, _ := cpuSeconds(cfg.PID)
	res.ServerRSSBeforeKB, _ = rssKB(cfg.PID)
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	stopProgress := t.progress(name, start, cfg.Duration, &done, &failed)
	var wg sync.WaitGroup
	if cfg.Rate <= 0 {
		for i := range workers {
			wg.Go(func() {
				var local []time.Duration
				localErrs := map[string]int64{}
				for time.Now().Before(deadline) && runCtx.Err() == nil {
					t0 := time.Now()
					if e := ops[i](runCtx); e != "" {
						if runCtx.Err() != nil {
							break // cut off by the deadline, not the server's fault
						}
						localErrs[e]++
						failed.Add(1)
						continue
					}
					local = append(local, time.Since(t0))
					done.Add(1)
				}
				record(local, localErrs)
			})
		}
	} else {
		// Open loop: request n is due at start + n/rate whatever the
		// server does; workers take due times from the queue and the
		// latency runs from the due time (no coordinated omission).
		due := make(chan time.Time, 1<<16)
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		go func() {
			defer close(due)
			for n := 0; ; n++ {
				at := start.Add(time.Duration(n) * interval)
				if !at.Before(deadline) {
					return
				}
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-runCtx.Done():
						return
					}
				}
				select {
				case due <- at:
				case <-runCtx.Done():
					return
				}
			}
		}()
		for i := range workers {
			wg.Go(func() {
				var local []time.Duration
				localErrs := map[string]int64{}
				for at := range due {
					if e := ops[i](runCtx); e != "" {
						if runCtx.Err() != nil {
							break
						}
						localErrs[e]++
						failed.Add(1)
						continue
					}
					local = append(local, time.Since(at))
					done.Add(1)
				}
				record(local, localErrs)
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	cpu1, cpuErr := cpuSeconds(cfg.PID)
	res.ServerRSSAfterKB, _ = rssKB(cfg.PID)

	res.Seconds = elapsed.Seconds()
	res.Ops = int64(len(lat))
	res.PerSecond = float64(res.Ops) / res.Seconds
	res.Latency = percentiles(lat)
	if len(errs) > 0 {
		res.Errors = errs
	}
	if cfg.PID > 0 && cpuErr == nil && cpu1 > cpu0 {
		res.ServerCPUSeconds = cpu1 - cpu0
		res.PerServerCore = float64(res.Ops) / res.ServerCPUSeconds
		if res.Ops > 0 {
			res.CPUPerOpMS = res.ServerCPUSeconds * 1000 / float64(res.Ops)
		}
	}
	for _, s := range sc.signatures {
		res.Signatures = append(res.Signatures, s.String())
	}
	return res, nil
}

// progress prints a line a second until the returned function is called.
func (t *target) progress(name string, start time.Time, total time.Duration, done, failed *atomic.Int64) func() {
	if t.cfg.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				n := done.Load()
				fmt.Fprintf(t.cfg.Progress, "%-10s %5.1fs/%.0fs  %9d ok  %8d/s  %d errors\n",
					name, time.Since(start).Seconds(), total.Seconds(), n, n-last, failed.Load())
				last = n
			}
		}
	}()
	return func() { close(stop); <-finished }
}

func percentiles(lat []time.Duration) Latency {
	if len(lat) == 0 {
		return Latency{}
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := int(p * float64(len(lat)-1))
		return float64(lat[i]) / float64(time.Millisecond)
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(lat[len(lat)-1]) / float64(time.Millisecond)}
}
