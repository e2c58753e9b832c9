// Package backchannel delivers OpenID Connect Back-Channel Logout 1.0
// requests: it POSTs logout tokens to the clients' backchannel_logout_uri
// from a bounded queue, with a bounded number of workers, a timeout per
// attempt, a bounded number of retries, no redirects and a bounded read of
// the answer. Logout never waits for it (Dispatcher.Send only queues), so
// a slow or failing relying party cannot slow the logout page. Failures
// are logged and counted (Stats). It is the server's implementation of
// logout.BackChannel, outside the core because it needs net/http.
package backchannel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/core/logout"
)

// Defaults, Connect2id's where it has one (HTTP timeouts of 1000 ms).
const (
	DefaultTimeout     = time.Second
	DefaultParallelism = 4
	DefaultRetries     = 2
	DefaultRetryDelay  = 2 * time.Second
	DefaultQueueSize   = 1000
	// maxResponse is how much of an answer is read (and discarded) so that
	// the connection can be reused; the answer's content does not matter
	// (§2.8: only the status does).
	maxResponse = 4 << 10
)

// Config bounds the delivery.
type Config struct {
	// Timeout bounds one attempt, connection to last byte read.
	Timeout time.Duration
	// Parallelism is how many deliveries run at once.
	Parallelism int
	// Retries is how many times a failed delivery is tried again (network
	// error, 5xx or 429), waiting RetryDelay, then twice that, and so on.
	Retries    int
	RetryDelay time.Duration
	// QueueSize bounds the deliveries waiting for a worker; beyond it new
	// ones are dropped (and counted), never waited for.
	QueueSize int
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Parallelism <= 0 {
		c.Parallelism = DefaultParallelism
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// Stats counts deliveries since the dispatcher started.
type Stats struct {
	Queued    int64 // accepted by Send
	Delivered int64 // answered 200 or 204
	Failed    int64 // given up after the last attempt, or refused (4xx)
	Retried   int64 // attempts that failed and were scheduled again
	Dropped   int64 // not queued: the queue was full, or the dispatcher stopped
}

type job struct {
	n       logout.Notification
	attempt int
}

// Dispatcher queues and delivers notifications. Run starts its workers.
type Dispatcher struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	queue  chan job

	mu      sync.Mutex
	stopped bool
	timers  map[*time.Timer]struct{}

	queued, delivered, failed, retried, dropped atomic.Int64
}

// New builds a dispatcher. transport may be nil (http.DefaultTransport's
// settings); tests pass their own.
func New(cfg Config, transport http.RoundTripper, log *slog.Logger) *Dispatcher {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		cfg: cfg,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// A redirect is a failure (§2.8 expects 200 or 400): following
			// it would let a client point the provider at any URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:    log,
		queue:  make(chan job, cfg.QueueSize),
		timers: map[*time.Timer]struct{}{},
	}
}

// Send queues a notification and returns at once (logout.BackChannel).
func (d *Dispatcher) Send(_ context.Context, n logout.Notification) {
	d.queued.Add(1)
	d.enqueue(job{n: n})
}

func (d *Dispatcher) enqueue(j job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		d.dropped.Add(1)
		return
	}
	select {
	case d.queue <- j:
	default:
		d.dropped.Add(1)
		d.log.Warn("back-channel logout dropped: queue full", "client_id", j.n.ClientID, "queue_size", d.cfg.QueueSize)
	}
}

// Run delivers until ctx ends, with cfg.Parallelism workers; then it
// drops what is still queued (counted) and returns.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.cfg.Parallelism {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-d.queue:
					d.deliver(ctx, j)
				}
			}
		})
	}
	<-ctx.Done()
	d.mu.Lock()
	d.stopped = true
	for t := range d.timers {
		if t.Stop() {
			d.dropped.Add(1)
		}
	}
	d.mu.Unlock()
	wg.Wait()
	for {
		select {
		case <-d.queue:
			d.dropped.Add(1)
		default:
			return
		}
	}
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Queued: d.queued.Load(), Delivered: d.delivered.Load(), Failed: d.failed.Load(), Retried: d.retried.Load(), Dropped: d.dropped.Load()}
}

// errPermanent marks an answer that a retry will not change.
var errPermanent = errors.New("refused")

func (d *Dispatcher) deliver(ctx context.Context, j job) {
	err := d.post(ctx, j.n)
	if err == nil {
		d.delivered.Add(1)
		d.log.Debug("back-channel logout delivered", "client_id", j.n.ClientID)
		return
	}
	if ctx.Err() != nil {
		d.dropped.Add(1)
		return
	}
	if errors.Is(err, errPermanent) || j.attempt >= d.cfg.Retries {
		d.failed.Add(1)
		d.log.Warn("back-channel logout failed", "client_id", j.n.ClientID, "attempts", j.attempt+1, "error", err.Error())
		return
	}
	d.retried.Add(1)
	delay := d.cfg.RetryDelay << j.attempt
	d.log.Info("back-channel logout failed; will retry", "client_id", j.n.ClientID, "attempt", j.attempt+1, "retry_in", delay, "error", err.Error())
	j.attempt++
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		d.dropped.Add(1)
		return
	}
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		d.mu.Lock()
		delete(d.timers, t)
		d.mu.Unlock()
		d.enqueue(j)
	})
	d.timers[t] = struct{}{}
}

// post sends one logout request (§2.5: a form POST with logout_token).
func (d *Dispatcher) post(ctx context.Context, n logout.Notification) error {
	body := url.Values{"logout_token": {n.Token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: bad URI", errPermanent)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	switch {
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	default:
		return fmt.Errorf("%w: HTTP %d", errPermanent, resp.StatusCode)
	}
}
