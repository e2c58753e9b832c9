package memstore_test

import (
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
	"github.com/keyward/keyward/store/storetest"
)

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(*testing.T) store.Durable { return memstore.New().Durable() })
}

func TestEphemeral(t *testing.T) {
	storetest.RunEphemeral(t, func(*testing.T) store.Ephemeral { return memstore.New().Ephemeral() })
}
