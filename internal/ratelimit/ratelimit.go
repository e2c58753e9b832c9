// Package ratelimit holds token-bucket limiters (golang.org/x/time/rate)
// keyed by client or address, in bounded memory.
package ratelimit

import (
	"container/list"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys one Keyed remembers. Past it the least
// recently seen key is forgotten; it comes back with a full bucket, which
// only errs on the lenient side, while memory stays bounded whatever an
// attacker sends.
const DefaultMaxKeys = 100_000

// Keyed is a set of token buckets, one per key. A nil *Keyed allows all.
type Keyed struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *entry, most recent at the front
	byKey map[string]*list.Element
}

type entry struct {
	key string
	lim *rate.Limiter
}

// New returns buckets refilled at perSecond with room for burst; a zero
// rate or burst disables them (nil). maxKeys <= 0 means DefaultMaxKeys;
// now nil means time.Now.
func New(perSecond float64, burst, maxKeys int, now func() time.Time) *Keyed {
	if perSecond <= 0 || burst <= 0 {
		return nil
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Keyed{limit: rate.Limit(perSecond), burst: burst, maxKeys: maxKeys, now: now,
		lru: list.New(), byKey: map[string]*list.Element{}}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// takes nothing and returns how long until a token is there.
func (k *Keyed) Allow(key string) (ok bool, retryAfter time.Duration) {
	if k == nil {
		return true, 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	var lim *rate.Limiter
	if el, found := k.byKey[key]; found {
		k.lru.MoveToFront(el)
		lim = el.Value.(*entry).lim
	} else {
		if k.lru.Len() >= k.maxKeys {
			oldest := k.lru.Back()
			k.lru.Remove(oldest)
			delete(k.byKey, oldest.Value.(*entry).key)
		}
		lim = rate.NewLimiter(k.limit, k.burst)
		k.byKey[key] = k.lru.PushFront(&entry{key: key, lim: lim})
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Len is the number of keys remembered.
func (k *Keyed) Len() int {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lru.Len()
}

// RetryAfterSeconds rounds a wait up to the whole seconds of an HTTP
// Retry-After header (RFC 9110 §10.2.3), at least 1.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// Wait reports how long until key's bucket holds a token, without taking
// one or remembering the key: 0 when a request would pass.
func (k *Keyed) Wait(key string) time.Duration {
	if k == nil {
		return 0
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	el, found := k.byKey[key]
	if !found {
		return 0
	}
	tokens := el.Value.(*entry).lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(k.limit) * float64(time.Second))
}
