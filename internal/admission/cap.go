package admission

import (
	"sync"
	"time"
)

// Cap bounds how many objects with a bounded lifetime (authorisation
// sessions, pushed requests) this node may have created and not yet seen
// removed. Every object expires within its lifetime, so counting creations
// over the last lifetime, less removals, bounds what this node can have
// put in the store without asking the store for a count.
//
// The window is kept in buckets: memory is fixed whatever the flood.
// Removals are taken from the current bucket, so removing an object made
// long ago errs towards admitting more, never fewer.
type Cap struct {
	max    int
	width  time.Duration
	now    func() time.Time
	mu     sync.Mutex
	counts []int
	starts []int64 // the bucket index each slot of counts belongs to
}

const capBuckets = 60

// NewCap allows limit objects living at most lifetime; limit <= 0 or a
// non-positive lifetime disables it (nil).
func NewCap(limit int, lifetime time.Duration, now func() time.Time) *Cap {
	if limit <= 0 || lifetime <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	width := max(lifetime/capBuckets, time.Millisecond)
	// One more bucket than the window: the oldest may be partly inside.
	return &Cap{max: limit, width: width, now: now, counts: make([]int, capBuckets+1), starts: make([]int64, capBuckets+1)}
}

// slotLocked returns the slot of the current bucket, clearing it when it
// last held an older bucket.
func (c *Cap) slotLocked(idx int64) int {
	s := int(idx % int64(len(c.counts)))
	if c.starts[s] != idx {
		c.starts[s], c.counts[s] = idx, 0
	}
	return s
}

func (c *Cap) totalLocked(idx int64) int {
	total := 0
	for s := range c.counts {
		if idx-c.starts[s] < int64(len(c.counts)) {
			total += c.counts[s]
		}
	}
	return max(total, 0)
}

// Add counts one new object and reports true, or reports false and counts
// nothing when the cap is reached. A nil Cap always allows.
func (c *Cap) Add() bool {
	if c == nil {
		return true
	}
	idx := c.now().UnixNano() / int64(c.width)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slotLocked(idx)
	if c.totalLocked(idx) >= c.max {
		return false
	}
	c.counts[s]++
	return true
}

// Remove counts one object gone before its expiry.
func (c *Cap) Remove() {
	if c == nil {
		return
	}
	idx := c.now().UnixNano() / int64(c.width)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.slotLocked(idx)
	if c.totalLocked(idx) > 0 {
		c.counts[s]--
	}
}

// Count is the number of objects counted as alive.
func (c *Cap) Count() int {
	if c == nil {
		return 0
	}
	idx := c.now().UnixNano() / int64(c.width)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.totalLocked(idx)
}
