package loginui

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// throttle slows password guessing: after max failed sign-ins for one
// username from one client address within window, that pair is refused
// without checking the password until the window has passed. Refusing
// before the check also keeps a guessing client from spending the server's
// password-hashing time. Counting by username and address together means
// one attacker cannot lock a user out from everywhere; the state is per
// process, so a cluster of N nodes allows N times the attempts.
type throttle struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	window time.Duration
	fails  map[string]failures
}

type failures struct {
	count int
	since time.Time
}

// maxTracked bounds the memory a flood of distinct usernames can take.
const maxTracked = 100_000

func newThrottle(now func() time.Time, max int, window time.Duration) *throttle {
	return &throttle{now: now, max: max, window: window, fails: map[string]failures{}}
}

// throttleKey identifies the username and client address of a sign-in.
func throttleKey(r *http.Request, username string) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return strings.ToLower(username) + "\x00" + host
}

// retryAfter reports how long the key is still refused, or 0.
func (t *throttle) retryAfter(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.fails[key]
	if !ok || f.count < t.max {
		return 0
	}
	left := f.since.Add(t.window).Sub(t.now())
	if left <= 0 {
		delete(t.fails, key)
		return 0
	}
	return left
}

// fail records a failed sign-in.
func (t *throttle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f, ok := t.fails[key]
	if !ok || now.Sub(f.since) >= t.window {
		if len(t.fails) >= maxTracked {
			t.evictLocked(now)
		}
		f = failures{since: now}
	}
	f.count++
	t.fails[key] = f
}

// succeed forgets the failures of a key after a successful sign-in.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	delete(t.fails, key)
	t.mu.Unlock()
}

// evictLocked drops expired entries, and if that is not enough, all of
// them: forgetting failures is safer than growing without bound.
func (t *throttle) evictLocked(now time.Time) {
	for k, f := range t.fails {
		if now.Sub(f.since) >= t.window {
			delete(t.fails, k)
		}
	}
	if len(t.fails) >= maxTracked {
		clear(t.fails)
	}
}
