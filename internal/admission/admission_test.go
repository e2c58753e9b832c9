package admission

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestGateAdmitsQueuesAndRefuses(t *testing.T) {
	g := NewGate(Limit{MaxInFlight: 2, MaxQueue: 1, QueueTimeout: time.Hour})
	ctx := context.Background()
	r1, err := g.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := g.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The third waits in the queue until a slot frees.
	got := make(chan error, 1)
	go func() {
		r, err := g.Acquire(ctx)
		if err == nil {
			r()
		}
		got <- err
	}()
	for g.Queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	// The queue is full: the fourth is refused at once.
	if _, err := g.Acquire(ctx); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("4th: %v, want ErrOverloaded", err)
	}
	if g.Refused() != 1 || g.InFlight() != 2 {
		t.Errorf("refused %d in flight %d", g.Refused(), g.InFlight())
	}
	r1()
	if err := <-got; err != nil {
		t.Fatalf("queued request: %v", err)
	}
	r2()
	if g.InFlight() != 0 || g.Queued() != 0 {
		t.Errorf("in flight %d queued %d after release", g.InFlight(), g.Queued())
	}
}

func TestGateQueueTimeoutAndCancel(t *testing.T) {
	g := NewGate(Limit{MaxInFlight: 1, MaxQueue: 10, QueueTimeout: time.Millisecond})
	r, _ := g.Acquire(context.Background())
	defer r()
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("timed out wait: %v", err)
	}
	g2 := NewGate(Limit{MaxInFlight: 1, MaxQueue: 10, QueueTimeout: time.Hour})
	r2, _ := g2.Acquire(context.Background())
	defer r2()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g2.Acquire(ctx); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("cancelled wait: %v", err)
	}
}

func TestZeroQueueRefusesWhenFull(t *testing.T) {
	g := NewGate(Limit{MaxInFlight: 1, QueueTimeout: time.Hour})
	r, _ := g.Acquire(context.Background())
	defer r()
	if _, err := g.Acquire(context.Background()); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("%v", err)
	}
}
