// Package redistest gives tests a private key space on a Redis server.
//
// Tests name the server with KEYWARD_TEST_REDIS_ADDR (host:port). When it
// is unset the test is skipped, unless KEYWARD_TEST_REQUIRE_BACKENDS or CI
// is set, in which case it fails: a CI run must not pass by silently
// skipping a backend.
//
// It may be imported by tests only; it imports the standard library and
// go-redis, never a Keyward package.
package redistest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// EnvAddr is the variable holding the server address.
const EnvAddr = "KEYWARD_TEST_REDIS_ADDR"

// NewURL returns the URL of the server named by KEYWARD_TEST_REDIS_ADDR
// and a fresh key prefix ("keyward_test_<random>:") for this test; every key
// under the prefix is deleted when the test ends. It skips the test when
// the variable is unset, or fails it when backends are required.
func NewURL(t testing.TB) (url, prefix string) {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		if os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != "" || os.Getenv("CI") != "" {
			t.Fatalf("%s is not set but backends are required", EnvAddr)
		}
		t.Skipf("%s not set; skipping Redis test", EnvAddr)
	}
	url = "redis://" + addr + "/0"
	prefix = "keyward_test_" + strings.ToLower(rand.Text()) + ":"
	t.Cleanup(func() { Flush(t, url, prefix) })
	return url, prefix
}

// Flush deletes every key under prefix on the server at url.
func Flush(t testing.TB, url, prefix string) {
	t.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Errorf("redistest: parse URL: %v", err)
		return
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("redistest: delete %s: %v", iter.Val(), err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("redistest: scan: %v", err)
	}
}
