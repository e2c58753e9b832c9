package clientreg

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// fakeStore is a small in-memory store.ClientStore that counts reads and can
// hold them at a gate, for the cache tests. It copies records in and out as
// a real backend does.
type fakeStore struct {
	mu      sync.Mutex
	clients map[string]*store.Client
	gets    int
	// gate, when set, blocks Get until it is closed.
	gate chan struct{}
}

func newFakeStore() *fakeStore { return &fakeStore{clients: map[string]*store.Client{}} }

func copyClient(c *store.Client) *store.Client {
	cp := *c
	cp.SecretHash = slices.Clone(c.SecretHash)
	cp.SecretSealed = slices.Clone(c.SecretSealed)
	cp.RegistrationTokenHash = slices.Clone(c.RegistrationTokenHash)
	cp.Metadata = cloneMetadata(c.Metadata)
	return &cp
}

func (f *fakeStore) Create(_ context.Context, c *store.Client) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[c.ID]; ok {
		return fmt.Errorf("create client %q: %w", c.ID, store.ErrExists)
	}
	f.clients[c.ID] = copyClient(c)
	return nil
}

func (f *fakeStore) Get(ctx context.Context, id string) (*store.Client, error) {
	f.mu.Lock()
	f.gets++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok {
		return nil, fmt.Errorf("get client %q: %w", id, store.ErrNotFound)
	}
	return copyClient(c), nil
}

func (f *fakeStore) Update(_ context.Context, id string, fn func(*store.Client) error) (*store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok {
		return nil, fmt.Errorf("update client %q: %w", id, store.ErrNotFound)
	}
	cp := copyClient(c)
	if err := fn(cp); err != nil {
		return nil, err
	}
	f.clients[id] = copyClient(cp)
	return cp, nil
}

func (f *fakeStore) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[id]; !ok {
		return fmt.Errorf("delete client %q: %w", id, store.ErrNotFound)
	}
	delete(f.clients, id)
	return nil
}

func (f *fakeStore) List(_ context.Context, after string, limit int) ([]*store.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.clients {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var out []*store.Client
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		out = append(out, copyClient(f.clients[id]))
	}
	return out, nil
}

func (f *fakeStore) getCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

type fixture struct {
	svc   *Service
	store *fakeStore
	clock *testclock.Clock
}

func testConfig() Config {
	return Config{
		Issuer: "https://op.example.com",
		SupportedResponseTypes: [][]string{
			{oauth.ResponseTypeCode},
			{oauth.ResponseTypeIDToken},
			{oauth.ResponseTypeIDToken, oauth.ResponseTypeToken},
			{oauth.ResponseTypeCode, oauth.ResponseTypeIDToken},
		},
		SupportedGrantTypes: []string{
			oauth.GrantTypeAuthorizationCode, oauth.GrantTypeImplicit,
			oauth.GrantTypeRefreshToken, oauth.GrantTypeClientCredentials,
		},
		SupportedIDTokenAlgs: []string{"RS256", "ES256"},
	}
}

func newFixture(t testing.TB, mod func(*Config)) *fixture {
	t.Helper()
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sealer, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFakeStore()
	clock := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return &fixture{
		svc: &Service{
			Config: cfg,
			Store:  fs,
			Sealer: sealer,
			Now:    clock.Now,
		},
		store: fs,
		clock: clock,
	}
}

func testMetadata() store.ClientMetadata {
	return store.ClientMetadata{RedirectURIs: []string{"https://rp.example.com/cb"}}
}
