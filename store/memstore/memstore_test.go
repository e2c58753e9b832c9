package memstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
	"github.com/keyward/keyward/store/storetest"
)

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T) store.Durable { return open(t).Durable() })
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(t *testing.T) store.Ephemeral { return open(t).Ephemeral() })
}

func open(t *testing.T) *memstore.Store {
	t.Helper()
	s, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// Open has the shape of every backend's Open, ctx included: an ended
// context fails it.
func TestOpenHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s, err := memstore.Open(ctx); !errors.Is(err, context.Canceled) || s != nil {
		t.Errorf("Open(cancelled) = %v, %v; want nil, context.Canceled", s, err)
	}
}
