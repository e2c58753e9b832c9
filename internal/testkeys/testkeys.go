package testkeys

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store/memstore"
)

// manager is built once per test binary: RSA key generation dominates the
// time of the tests that sign, and a KeyManager is safe to share for Sign
// and Verify.
var manager = sync.OnceValues(func() (*jose.KeyManager, error) {
	keys, err := secret.DeriveKeys(bytes.Repeat([]byte{7}, secret.MasterKeySize))
	if err != nil {
		return nil, err
	}
	ms, err := memstore.Open(context.Background())
	if err != nil {
		return nil, err
	}
	km, err := jose.NewKeyManager(jose.KeyManagerConfig{Store: ms.Durable().Keys, Sealer: keys.Sealer})
	if err != nil {
		return nil, err
	}
	return km, km.Init(context.Background())
})

// Manager returns the test binary's shared key manager, with a current key
// for every algorithm it supports. Tests must only sign and verify with it:
// a test that rotates or retires keys builds its own manager, or it would
// change the keys under every other test.
func Manager(t testing.TB) *jose.KeyManager {
	t.Helper()
	km, err := manager()
	if err != nil {
		t.Fatalf("testkeys: %v", err)
	}
	return km
}
