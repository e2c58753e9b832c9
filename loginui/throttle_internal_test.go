package loginui

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func testKey(s string) throttleKey {
	r := httptest.NewRequest("POST", "/", nil)
	return keyFor(r, s)
}

// TestThrottleEvictsOldest: when the throttle is full, a new key pushes out
// the expired entries and then the oldest one — never everyone's counts.
func TestThrottleEvictsOldest(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := start
	th := newThrottle(func() time.Time { return now }, 2, 10*time.Minute)
	th.limit = 3
	lock := func(k throttleKey) {
		t.Helper()
		for range 2 {
			if wait := th.attempt(k); wait != 0 {
				t.Fatalf("attempt refused early (%v)", wait)
			}
		}
		if th.attempt(k) == 0 {
			t.Fatal("third attempt not refused")
		}
	}
	a, b, c, d := testKey("a"), testKey("b"), testKey("c"), testKey("d")
	lock(a)
	now = now.Add(time.Minute)
	lock(b)
	now = now.Add(time.Minute)
	lock(c)
	now = now.Add(time.Minute)
	lock(d) // full: a, the oldest, goes
	if n := th.tracked(); n != 3 {
		t.Errorf("%d keys tracked, want 3", n)
	}
	for name, k := range map[string]throttleKey{"b": b, "c": c, "d": d} {
		if th.attempt(k) == 0 {
			t.Errorf("%s lost its count when a new key arrived", name)
		}
	}
	if th.attempt(a) != 0 {
		t.Error("the evicted oldest key is still refused")
	}
	// Once their windows have passed, a new key clears every expired
	// entry rather than only the oldest.
	now = start.Add(14 * time.Minute)
	th.attempt(testKey("e"))
	if n := th.tracked(); n != 1 {
		t.Errorf("%d keys tracked after the windows passed, want only the new one", n)
	}
}

// TestThrottleKeys: a key is a fixed-size digest of the case-folded
// username and the client address: long usernames that differ only at the
// end stay apart, and the port does not matter.
func TestThrottleKeys(t *testing.T) {
	long := strings.Repeat("u", 60_000)
	r1 := httptest.NewRequest("POST", "/", nil)
	r1.RemoteAddr = "192.0.2.1:1111"
	r2 := httptest.NewRequest("POST", "/", nil)
	r2.RemoteAddr = "192.0.2.1:2222"
	r3 := httptest.NewRequest("POST", "/", nil)
	r3.RemoteAddr = "192.0.2.2:1111"
	if keyFor(r1, long+"a") == keyFor(r1, long+"b") {
		t.Error("long usernames differing at the end share a key")
	}
	if keyFor(r1, "Alice") != keyFor(r2, "alice") {
		t.Error("case or port changed the key")
	}
	if keyFor(r1, "alice") == keyFor(r3, "alice") {
		t.Error("another address shares the key")
	}
}
