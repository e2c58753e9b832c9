package metrics

import (
	"math"
	"slices"
	"sync"
	"time"
)

// The Dropwizard Metrics primitives behind the Connect2id-shaped JSON of
// GET /monitor/v1/metrics
// (https://connect2id.com/products/server/docs/integration/monitoring).
// Rates are per second and durations in seconds, as the JSON says in its
// "units", "rate_units" and "duration_units" members.

// tickInterval is how often the moving averages decay, as in Dropwizard's
// EWMA.
const tickInterval = 5 * time.Second

// ewma is an exponentially weighted moving average of a per-second rate
// over a window of minutes (Dropwizard's EWMA, as UNIX load averages).
type ewma struct {
	alpha     float64
	rate      float64
	uncounted int64
	init      bool
}

func newEWMA(minutes float64) ewma {
	return ewma{alpha: 1 - math.Exp(-tickInterval.Seconds()/60/minutes)}
}

func (e *ewma) tick() {
	instant := float64(e.uncounted) / tickInterval.Seconds()
	e.uncounted = 0
	if e.init {
		e.rate += e.alpha * (instant - e.rate)
	} else {
		e.rate, e.init = instant, true
	}
}

// Meter counts events and their rates.
type Meter struct {
	mu       sync.Mutex
	now      func() time.Time
	start    time.Time
	lastTick time.Time
	count    int64
	m1       ewma
	m5       ewma
	m15      ewma
}

func newMeter(now func() time.Time) *Meter {
	t := now()
	return &Meter{now: now, start: t, lastTick: t, m1: newEWMA(1), m5: newEWMA(5), m15: newEWMA(15)}
}

// Mark records one event.
func (m *Meter) Mark() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.catchUp()
	m.count++
	m.m1.uncounted++
	m.m5.uncounted++
	m.m15.uncounted++
}

// catchUp applies the ticks due since the last one; after an idle hour the
// averages are zero anyway, so at most that many ticks are applied.
func (m *Meter) catchUp() {
	n := int(m.now().Sub(m.lastTick) / tickInterval)
	if n <= 0 {
		return
	}
	m.lastTick = m.lastTick.Add(time.Duration(n) * tickInterval)
	for range min(n, 720) {
		m.m1.tick()
		m.m5.tick()
		m.m15.tick()
	}
}

// Count is the number of events marked.
func (m *Meter) Count() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

func (m *Meter) snapshot() map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.catchUp()
	mean := 0.0
	if el := m.now().Sub(m.start).Seconds(); el > 0 {
		mean = float64(m.count) / el
	}
	return map[string]any{
		"count": m.count, "mean_rate": mean,
		"m1_rate": m.m1.rate, "m5_rate": m.m5.rate, "m15_rate": m.m15.rate,
		"units": "events/second",
	}
}

// reservoirSize is the number of recent samples a histogram keeps, as
// Dropwizard's default reservoir.
const reservoirSize = 1028

// Histogram keeps the distribution of recent values.
type Histogram struct {
	mu      sync.Mutex
	count   int64
	samples []float64
	next    int
}

// Update records a value.
func (h *Histogram) Update(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.count++
	if len(h.samples) < reservoirSize {
		h.samples = append(h.samples, v)
		return
	}
	h.samples[h.next] = v
	h.next = (h.next + 1) % reservoirSize
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.count
}

func (h *Histogram) snapshot() map[string]any {
	h.mu.Lock()
	s := slices.Clone(h.samples)
	count := h.count
	h.mu.Unlock()
	slices.Sort(s)
	out := map[string]any{"count": count}
	q := func(p float64) float64 {
		if len(s) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(len(s)-1, i))]
	}
	var sum, sq float64
	for _, v := range s {
		sum += v
	}
	mean := 0.0
	if len(s) > 0 {
		mean = sum / float64(len(s))
	}
	for _, v := range s {
		sq += (v - mean) * (v - mean)
	}
	std := 0.0
	if len(s) > 1 {
		std = math.Sqrt(sq / float64(len(s)-1))
	}
	out["min"], out["max"], out["mean"], out["stddev"] = q(0), q(1), mean, std
	for _, p := range []struct {
		name string
		v    float64
	}{{"p50", .5}, {"p75", .75}, {"p95", .95}, {"p98", .98}, {"p99", .99}, {"p999", .999}} {
		out[p.name] = q(p.v)
	}
	return out
}

// Timer is a meter of calls and a histogram of their durations.
type Timer struct {
	meter *Meter
	hist  Histogram
}

// Update records one call that took d.
func (t *Timer) Update(d time.Duration) {
	t.meter.Mark()
	t.hist.Update(d.Seconds())
}

// Count is the number of calls recorded.
func (t *Timer) Count() int64 { return t.meter.Count() }

func (t *Timer) snapshot() map[string]any {
	out := t.hist.snapshot()
	for k, v := range t.meter.snapshot() {
		if k != "units" {
			out[k] = v
		}
	}
	out["duration_units"], out["rate_units"] = "seconds", "calls/second"
	return out
}

// Counter is a value that goes up and down.
type Counter struct {
	mu sync.Mutex
	n  int64
}

// Add adds d (which may be negative).
func (c *Counter) Add(d int64) { c.mu.Lock(); c.n += d; c.mu.Unlock() }

// Count is the current value.
func (c *Counter) Count() int64 { c.mu.Lock(); defer c.mu.Unlock(); return c.n }
