package server

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/store"
)

// purgeJob is the periodic purge of one store, with the count of what it
// removed since the node started.
type purgeJob struct {
	name   string
	p      store.Purger
	purged atomic.Int64
}

// purgeOptions shape one purge tick.
type purgeOptions struct {
	// Margin is subtracted from now: only records that expired longer ago
	// are removed, which absorbs clock skew between the nodes.
	Margin time.Duration
	// Batch is the most records of each kind one Purge call removes.
	Batch int
	// Budget bounds the time a tick spends; the rest waits for the next.
	Budget time.Duration
}

// purgeExpired removes records that expired before now minus the margin,
// one bounded batch after another, until a batch comes back short (nothing
// more to do) or the time budget is spent. Small batches keep each
// statement's locks short; looping keeps up with any expiry rate that the
// budget allows, where one batch per tick would fall behind.
// It reports whether it finished, that is, whether the last batch was
// short rather than the budget spent.
func purgeExpired(ctx context.Context, p store.Purger, now time.Time, o purgeOptions) (purged int, finished bool, err error) {
	cutoff := now.Add(-o.Margin)
	// The budget is wall time spent, measured on the monotonic clock, not
	// the node's (possibly injected) notion of now.
	start := time.Now()
	for {
		n, err := p.Purge(ctx, cutoff, o.Batch)
		purged += n
		if err != nil {
			return purged, false, err
		}
		// Purge removes at most Batch of each kind, so a total below Batch
		// means no kind was full.
		if n < o.Batch {
			return purged, true, nil
		}
		if ctx.Err() != nil || time.Since(start) >= o.Budget {
			return purged, false, nil
		}
	}
}

// purgeLoop purges the durable and the ephemeral store every
// cluster.purge_interval; each tick may use half the interval.
func (s *Server) purgeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.Cluster.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.purgeTick(ctx)
	}
}

func (s *Server) purgeTick(ctx context.Context) {
	o := purgeOptions{Margin: s.cfg.Cluster.PurgeMargin, Batch: s.cfg.Cluster.PurgeBatch, Budget: s.cfg.Cluster.PurgeInterval / 2}
	for _, j := range s.purgeJobs {
		if j.p == nil {
			continue
		}
		n, finished, err := purgeExpired(ctx, j.p, s.now(), o)
		total := j.purged.Add(int64(n))
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.Warn("purge expired records", "store", j.name, "count", n, "error", err.Error())
			}
		case !finished:
			// Batches were still full when the budget ran out: records
			// expire faster than this node purges them.
			s.log.Warn("purge of expired records did not finish within its budget", "store", j.name,
				"count", n, "total", total, "budget", o.Budget)
		case n > 0:
			s.log.Info("purged expired records", "store", j.name, "count", n, "total", total)
		}
	}
}

// sessionPurger takes expired subject sessions through the session
// service, which reports each to the logout service (back-channel logout
// on expiry, OpenID Connect Back-Channel Logout 1.0 §2.7). The store gives
// each session to one node only, so nodes purging at once notify once.
type sessionPurger struct{ s *session.Service }

func (p sessionPurger) Purge(ctx context.Context, now time.Time, limit int) (int, error) {
	return p.s.TakeExpired(ctx, now, limit)
}

// Purged reports how many expired records each store's purge has removed
// since the node started, by store ("durable", "ephemeral",
// "subject_sessions").
func (s *Server) Purged() map[string]int64 {
	out := make(map[string]int64, len(s.purgeJobs))
	for _, j := range s.purgeJobs {
		out[j.name] = j.purged.Load()
	}
	return out
}
