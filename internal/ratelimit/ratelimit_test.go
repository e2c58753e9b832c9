package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRefuseThenRefill(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	k := New(2, 3, 0, c.now)
	for i := range 3 {
		if ok, _ := k.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := k.Allow("a")
	if ok || wait <= 0 || wait > 500*time.Millisecond {
		t.Fatalf("4th request: ok=%v wait=%v, want refused with wait <= 500ms", ok, wait)
	}
	if RetryAfterSeconds(wait) != 1 {
		t.Errorf("Retry-After %d", RetryAfterSeconds(wait))
	}
	// Another key has its own bucket.
	if ok, _ := k.Allow("b"); !ok {
		t.Error("key b refused because of key a")
	}
	// A refused request takes no token: half a second later one is back.
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := k.Allow("a"); !ok {
		t.Error("refill did not give a token back")
	}
	if ok, _ := k.Allow("a"); ok {
		t.Error("second request after one refill allowed")
	}
}

func TestDisabled(t *testing.T) {
	for _, k := range []*Keyed{New(0, 10, 0, nil), New(1, 0, 0, nil)} {
		if k != nil {
			t.Fatal("zero rate or burst must disable")
		}
		for range 1000 {
			if ok, _ := k.Allow("x"); !ok {
				t.Fatal("disabled limiter refused")
			}
		}
	}
}

// Memory stays bounded whatever keys arrive: after 100 000 distinct keys
// only maxKeys are remembered, and the most recent still count.
func TestBoundedKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	k := New(1, 1, 1000, c.now)
	for i := range 100_000 {
		k.Allow(fmt.Sprintf("k%d", i))
	}
	if k.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", k.Len())
	}
	if ok, _ := k.Allow("k99999"); ok {
		t.Error("the most recent key lost its bucket")
	}
	if ok, _ := k.Allow("k0"); !ok {
		t.Error("an evicted key should start with a full bucket")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 10 * time.Second: 10} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestWaitPeeksWithoutTaking(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	k := New(1, 2, 0, c.now)
	if k.Wait("a") != 0 || k.Len() != 0 {
		t.Fatal("Wait on an unknown key must pass and remember nothing")
	}
	k.Allow("a")
	if k.Wait("a") != 0 {
		t.Fatal("one token left, Wait must pass")
	}
	k.Allow("a")
	if w := k.Wait("a"); w <= 0 || w > time.Second {
		t.Fatalf("empty bucket: Wait = %v", w)
	}
	if w := k.Wait("a"); w <= 0 {
		t.Fatal("Wait took a token")
	}
	c.t = c.t.Add(time.Second)
	if k.Wait("a") != 0 {
		t.Fatal("refilled bucket still waits")
	}
}
