package testclock

import (
	"sync"
	"testing"
	"time"
)

func TestStoppedClock(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("a stopped clock moved by itself: %v", got)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: Now = %v, want %v", got, want)
	}
	c.Advance(-30 * time.Second)
	if got, want := c.Now(), t0.Add(60*time.Second); !got.Equal(want) {
		t.Fatalf("after a negative Advance: Now = %v, want %v", got, want)
	}
}

func TestWallClock(t *testing.T) {
	c := Wall()
	c.Advance(time.Hour)
	before := time.Now()
	got := c.Now()
	after := time.Now()
	if got.Before(before.Add(time.Hour)) || got.After(after.Add(time.Hour)) {
		t.Fatalf("Now = %v, want between %v and %v", got, before.Add(time.Hour), after.Add(time.Hour))
	}
}

// Run with -race: the server reads the clock while the test advances it.
func TestConcurrentUse(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := New(t0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(400*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
}
