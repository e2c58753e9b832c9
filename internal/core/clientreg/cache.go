package clientreg

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/store"
)

const (
	// cacheSweepSize triggers a sweep of expired entries, so that the map
	// stays near the number of clients in active use.
	cacheSweepSize = 10_000
	// loadTimeout bounds a shared store read, which outlives the context
	// of the caller that started it.
	loadTimeout = 10 * time.Second
)

// cache is the client cache behind Service.Get. Its zero value is ready.
type cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	// gen changes on every invalidation. A load records the generation it
	// started under and stores its result only if no invalidation happened
	// meanwhile; the generation is also part of the single-flight key, so
	// callers after an invalidation never join a load that began before it.
	gen   uint64
	group singleflight.Group
}

type cacheEntry struct {
	client  *store.Client
	expires time.Time
}

// Get returns the client with the given ID, from the cache when a fresh
// entry exists, else from the store; concurrent misses for one ID share one
// store read. Entries live Config.CacheTTL and are dropped by local writes
// and by Invalidate. An unknown client yields an error wrapping
// store.ErrNotFound; callers translate it to the OAuth error of their
// endpoint. The returned client is shared: callers must not modify it.
func (s *Service) Get(ctx context.Context, id string) (*store.Client, error) {
	now := s.Now()
	c := &s.cache
	c.mu.Lock()
	if e, ok := c.entries[id]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.client, nil
	}
	gen := c.gen
	c.mu.Unlock()

	key := strconv.FormatUint(gen, 10) + "/" + id
	ch := c.group.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		cl, err := s.Store.Get(lctx, id)
		if err != nil {
			return nil, err
		}
		c.put(id, cl, gen, s.Now(), s.Config.cacheTTL())
		return cl, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("get client: %w", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, fmt.Errorf("get client: %w", r.Err)
		}
		return r.Val.(*store.Client), nil
	}
}

// Invalidate drops the cached client so the next Get reads the store. The
// server calls it when another node announces a change to the client.
func (s *Service) Invalidate(id string) {
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
	c.gen++
}

func (c *cache) put(id string, cl *store.Client, gen uint64, now time.Time, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.entries == nil {
		c.entries = make(map[string]cacheEntry)
	}
	if len(c.entries) >= cacheSweepSize {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[id] = cacheEntry{client: cl, expires: now.Add(ttl)}
}
