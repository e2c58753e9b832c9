package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/keyward/keyward/store"
)

// Base is the fixed "now" of the suites: in the future, with a millisecond
// part, in UTC.
var Base = time.Date(2030, 1, 2, 3, 4, 5, 123_000_000, time.UTC)

// Goroutines is how many concurrent callers the race subtests start.
const Goroutines = 32

// test is one named subtest of a suite.
type test[S any] struct {
	name string
	fn   func(t *testing.T, s S)
}

func run[S any](t *testing.T, tests []test[S], newStore func(t *testing.T) S) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// RunDurable runs the durable-store contract suite; newStore must return an
// empty store for each subtest.
func RunDurable(t *testing.T, newStore func(t *testing.T) store.Durable) {
	t.Helper()
	run(t, durableTests(), newStore)
}

// RunEphemeral runs the ephemeral-store contract suite; newStore must return
// an empty store for each subtest.
func RunEphemeral(t *testing.T, newStore func(t *testing.T) store.Ephemeral) {
	t.Helper()
	run(t, ephemeralTests(), newStore)
}

// errBoom is what update functions return to abort an update.
var errBoom = errors.New("storetest: update aborted")

// cmpOpts treats nil and empty slices and maps as equal: a backend that
// stores JSON cannot tell them apart.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// must fails the test on a non-nil error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// zone is a non-UTC zone with a half-hour offset, to catch backends that
// store wall-clock time or drop the offset.
var zone = time.FixedZone("UTC+05:30", 5*3600+30*60)

// zoned returns Base+d in zone with a sub-millisecond part.
func zoned(d time.Duration) time.Time {
	return Base.Add(d).Add(456_789 * time.Nanosecond).In(zone)
}

// checkTime fails unless got is in UTC and within a millisecond of want.
func checkTime(t *testing.T, field string, want, got time.Time) {
	t.Helper()
	if got.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", field, got.Location())
	}
	if d := got.Sub(want); d <= -time.Millisecond || d >= time.Millisecond {
		t.Errorf("%s = %v, want %v (within 1ms)", field, got, want)
	}
}

// largeJSON is about 200 KB of JSON-native claims.
func largeJSON() map[string]any {
	list := make([]any, 0, 500)
	for i := range 500 {
		list = append(list, map[string]any{"i": float64(i), "s": strings.Repeat("é", 100), "ok": i%2 == 0})
	}
	return map[string]any{
		"blob":   strings.Repeat("0123456789abcdef", 200<<10/16/2),
		"list":   list,
		"nested": map[string]any{"a": map[string]any{"b": []any{"x", 1.5, nil, true}}},
	}
}

// allBytes is every byte value once, zero first.
func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// concurrently runs fn from Goroutines goroutines at once and returns the
// errors in goroutine order.
func concurrently(fn func(i int) error) []error {
	errs := make([]error, Goroutines)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range Goroutines {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// retryConflict calls fn until it returns something other than ErrConflict;
// the contract lets a backend report a lost race instead of retrying.
func retryConflict(fn func() error) error {
	for {
		err := fn()
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// counter reads the float64 counter "n" from a JSON map.
func counter(m map[string]any) float64 {
	n, _ := m["n"].(float64)
	return n
}

// increment adds one to the counter "n", creating the map if needed.
func increment(m *map[string]any) {
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)["n"] = counter(*m) + 1
}

// countOutcomes splits errs into successes and errors matching target;
// anything else fails the test.
func countOutcomes(t *testing.T, what string, errs []error, target error) (ok, matched int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, target):
			matched++
		default:
			t.Errorf("%s: goroutine %d: unexpected error %v", what, i, err)
		}
	}
	return ok, matched
}

// WantOneWinner checks the outcome of racing calls to a single-use
// operation (Consume, Rotate): exactly one succeeded and every other one
// got ErrConsumed. Backends use it for races the suite cannot stage, such as
// across two connection pools.
func WantOneWinner(t *testing.T, what string, errs []error) {
	t.Helper()
	ok, consumed := countOutcomes(t, what, errs, store.ErrConsumed)
	if ok != 1 || consumed != len(errs)-1 {
		t.Fatalf("%s: %d winners and %d ErrConsumed, want 1 and %d", what, ok, consumed, len(errs)-1)
	}
}

// wantNoLostUpdates checks that every concurrent update succeeded and that
// the counter they incremented saw all of them.
func wantNoLostUpdates(t *testing.T, errs []error, data map[string]any) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if n := counter(data); n != Goroutines {
		t.Errorf("counter = %v after %d updates: lost updates", n, Goroutines)
	}
}

func id(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

// ReplayKey is the replay-cache key of a one-time identifier as the core
// passes it to store.ReplayCache.MarkUsed: the identifier's hex SHA-256.
func ReplayKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
