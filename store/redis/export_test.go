package redis

import (
	"testing"
)

// Keys returns every key under the store's prefix with its sorted-set
// cardinality (0 for other types), for tests that count what is left
// behind.
func (s *Store) Keys(t testing.TB) map[string]int {
	t.Helper()
	ctx := t.Context()
	out := map[string]int{}
	iter := s.rdb.Scan(ctx, 0, s.prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		typ, err := s.rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("type %s: %v", k, err)
		}
		n := 0
		if typ == "zset" {
			c, err := s.rdb.ZCard(ctx, k).Result()
			if err != nil {
				t.Fatalf("zcard %s: %v", k, err)
			}
			n = int(c)
		}
		out[k] = n
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}
