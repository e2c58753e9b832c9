package loginui

import (
	"container/list"
	"context"
	"crypto/sha256"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// throttle slows password guessing: at most max sign-in attempts for one
// username from one client address within window; then that pair is
// refused without checking the password until the window has passed.
//
// An attempt is counted before its password is checked, in one step with
// the limit check, so parallel requests cannot all pass the check before
// any of them is recorded; a successful sign-in forgets the count. Refusing
// before the check also keeps a guessing client from spending the server's
// password-hashing time. Counting by username and address together means
// one attacker cannot lock a user out from everywhere; the state is per
// process, so a cluster of N nodes allows N times the attempts.
//
// Keys are fixed-size digests, so a long username costs no memory here, and
// at most limit keys are kept: when full, expired entries go first, then the
// oldest, so a flood of new keys cannot wipe everyone's counts at once.
type throttle struct {
	mu     sync.Mutex
	now    func() time.Time
	max    int
	window time.Duration
	limit  int
	byKey  map[throttleKey]*list.Element
	// order holds *attempts, oldest window start first.
	order *list.List
}

// throttleKey is the SHA-256 digest of a username and client address.
type throttleKey [sha256.Size]byte

type attempts struct {
	key   throttleKey
	count int
	since time.Time
}

// maxTracked bounds the keys the throttle keeps.
const maxTracked = 100_000

func newThrottle(now func() time.Time, max int, window time.Duration) *throttle {
	return &throttle{now: now, max: max, window: window, limit: maxTracked,
		byKey: map[throttleKey]*list.Element{}, order: list.New()}
}

// keyFor identifies the username and client address of a sign-in.
func keyFor(r *http.Request, username string) throttleKey {
	return keyForAddr(remoteHost(r), username)
}

// keyForAddr identifies the username and client address of a sign-in.
func keyForAddr(addr, username string) throttleKey {
	return sha256.Sum256([]byte(strings.ToLower(username) + "\x00" + addr))
}

// remoteHost is the host of the request's TCP peer.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return host
}

// attempt counts one sign-in attempt for key and reports 0 when it may
// proceed, or how long the key is still refused; a refused attempt is not
// counted.
func (t *throttle) attempt(key throttleKey) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if el, ok := t.byKey[key]; ok {
		a := el.Value.(*attempts)
		if left := a.since.Add(t.window).Sub(now); left > 0 {
			if a.count >= t.max {
				return left
			}
			a.count++
			return 0
		}
		// The window has passed: start a new one at the back.
		t.removeLocked(el)
	}
	t.makeRoomLocked(now)
	t.byKey[key] = t.order.PushBack(&attempts{key: key, count: 1, since: now})
	return 0
}

// succeed forgets the attempts of a key after a successful sign-in.
func (t *throttle) succeed(key throttleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.byKey[key]; ok {
		t.removeLocked(el)
	}
}

func (t *throttle) removeLocked(el *list.Element) {
	delete(t.byKey, el.Value.(*attempts).key)
	t.order.Remove(el)
}

// makeRoomLocked drops expired entries from the front when the throttle is
// full and, if that is not enough, the oldest one.
func (t *throttle) makeRoomLocked(now time.Time) {
	if len(t.byKey) < t.limit {
		return
	}
	for el := t.order.Front(); el != nil; el = t.order.Front() {
		if now.Sub(el.Value.(*attempts).since) < t.window {
			break
		}
		t.removeLocked(el)
	}
	if len(t.byKey) >= t.limit {
		t.removeLocked(t.order.Front())
	}
}

// tracked reports how many keys the throttle holds (for tests).
func (t *throttle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byKey)
}

// gate bounds the password checks that run at once: each argon2id check
// takes its memory cost (19 MiB by default, up to 1 GiB for imported
// hashes), so unbounded parallel sign-ins are a denial of service even
// when every one of them is counted by the throttle.
type gate chan struct{}

// enter waits for a free slot; it fails only when ctx ends first.
func (g gate) enter(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g gate) leave() { <-g }
