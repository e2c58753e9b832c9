package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/store/memstore"
)

// A subscriber that never reads must not block publishers: notices beyond
// its buffer are dropped (delivery is best effort), and the others still
// get theirs.
func TestNotifierSlowSubscriberDoesNotBlock(t *testing.T) {
	n := memstore.NewNotifier()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stuck, err := n.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	const sent = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sent {
			if err := n.Publish(t.Context(), "t", "x"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	if got := len(stuck); got == 0 || got >= sent {
		t.Errorf("stuck subscriber holds %d notices, want some but fewer than %d", got, sent)
	}
	fresh, err := n.Subscribe(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Publish(t.Context(), "t", "late"); err != nil {
		t.Fatal(err)
	}
	if got := <-fresh; got != "late" {
		t.Errorf("fresh subscriber got %q, want %q", got, "late")
	}
}

func TestNotifierRefusesEndedContext(t *testing.T) {
	n := memstore.NewNotifier()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := n.Subscribe(ctx, "t"); err == nil {
		t.Error("Subscribe with an ended context succeeded")
	}
	if err := n.Publish(ctx, "t", "x"); err == nil {
		t.Error("Publish with an ended context succeeded")
	}
}
