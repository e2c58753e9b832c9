// Package admission bounds the requests in progress per route class, so
// that a flood of one kind (token requests in a login storm) queues only
// behind itself and is shed quickly, instead of every request queueing
// until all of them time out.
package admission

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrOverloaded is returned when a request is not admitted.
var ErrOverloaded = errors.New("admission: overloaded")

// Limit configures one class.
type Limit struct {
	// MaxInFlight requests run at once; more wait.
	MaxInFlight int
	// MaxQueue requests may wait; more are refused at once.
	MaxQueue int
	// QueueTimeout is the longest wait; a request still waiting then is
	// refused.
	QueueTimeout time.Duration
}

// Gate admits requests of one class.
type Gate struct {
	slots   chan struct{}
	queued  atomic.Int64
	limit   Limit
	refused atomic.Int64
}

// NewGate returns a gate for l; MaxInFlight < 1 is taken as 1.
func NewGate(l Limit) *Gate {
	l.MaxInFlight = max(l.MaxInFlight, 1)
	l.MaxQueue = max(l.MaxQueue, 0)
	return &Gate{slots: make(chan struct{}, l.MaxInFlight), limit: l}
}

// Acquire admits one request, waiting in the queue if every slot is taken.
// On success the caller must call the returned release exactly once.
func (g *Gate) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	if g.queued.Add(1) > int64(g.limit.MaxQueue) {
		g.queued.Add(-1)
		g.refused.Add(1)
		return nil, ErrOverloaded
	}
	defer g.queued.Add(-1)
	timer := time.NewTimer(g.limit.QueueTimeout)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-timer.C:
		g.refused.Add(1)
		return nil, ErrOverloaded
	case <-ctx.Done():
		g.refused.Add(1)
		return nil, ErrOverloaded
	}
}

func (g *Gate) release() { <-g.slots }

// InFlight is the number of requests admitted and not yet released.
func (g *Gate) InFlight() int { return len(g.slots) }

// Queued is the number of requests waiting.
func (g *Gate) Queued() int { return int(g.queued.Load()) }

// Refused is the number of requests refused since the gate was made.
func (g *Gate) Refused() int64 { return g.refused.Load() }

// Limit returns the gate's limits.
func (g *Gate) Limit() Limit { return g.limit }
