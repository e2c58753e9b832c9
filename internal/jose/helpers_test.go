package jose

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/store"
)

// fakeKeyStore is a hand-written store.KeyStore (store/memstore did not exist
// when this package was written); it follows the contract in store/key.go.
type fakeKeyStore struct {
	mu   sync.Mutex
	keys []*store.SigningKey
	// lists counts List calls, to show the hot path never reaches the store.
	lists int
}

func cloneKey(k *store.SigningKey) *store.SigningKey {
	c := *k
	c.Public = bytes.Clone(k.Public)
	c.PrivateSealed = bytes.Clone(k.PrivateSealed)
	return &c
}

func (s *fakeKeyStore) List(ctx context.Context) ([]*store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	out := make([]*store.SigningKey, len(s.keys))
	for i, k := range s.keys {
		out[i] = cloneKey(k)
	}
	return out, nil
}

func (s *fakeKeyStore) AddIfEmpty(ctx context.Context, keys []*store.SigningKey) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) > 0 {
		return false, nil
	}
	for _, k := range keys {
		s.keys = append(s.keys, cloneKey(k))
	}
	return true, nil
}

func (s *fakeKeyStore) Rotate(ctx context.Context, next []*store.SigningKey, now, deleteAfter time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.RetiredAt.IsZero() && slices.ContainsFunc(next, func(n *store.SigningKey) bool { return n.Alg == k.Alg }) {
			k.RetiredAt, k.DeleteAfter = now, deleteAfter
		}
	}
	for _, k := range next {
		s.keys = append(s.keys, cloneKey(k))
	}
	return nil
}

func (s *fakeKeyStore) DeleteRetired(ctx context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := len(s.keys)
	s.keys = slices.DeleteFunc(s.keys, func(k *store.SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.DeleteAfter.Before(now)
	})
	return before - len(s.keys), nil
}

func (s *fakeKeyStore) listCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func sealer(t testing.TB, b byte) *secret.Sealer {
	t.Helper()
	keys, err := secret.DeriveKeys(bytes.Repeat([]byte{b}, secret.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return keys.Sealer
}

// newManager returns an initialised manager over st.
func newManager(t testing.TB, st store.KeyStore, clk *testclock.Clock, s *secret.Sealer) *KeyManager {
	t.Helper()
	m, err := NewKeyManager(KeyManagerConfig{Store: st, Sealer: s, Now: clk.Now, RetiredKeyTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}
