package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that a test moves forward. It is safe for concurrent
// use: the server's goroutines read it while the test advances it.
type Clock struct {
	mu   sync.Mutex
	at   time.Time // the time of a stopped clock
	off  time.Duration
	wall bool
}

// New returns a clock stopped at t: Now returns t until Advance moves it.
// Use it where a test must know the exact time.
func New(t time.Time) *Clock { return &Clock{at: t} }

// Wall returns a clock that follows the real time, plus however far it was
// advanced. Use it where real time must still flow — for parts of the
// system under test that read the wall clock, such as a relying party's
// token verifier — while the test skips a wait.
func Wall() *Clock { return &Clock{wall: true} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wall {
		return time.Now().Add(c.off)
	}
	return c.at.Add(c.off)
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
