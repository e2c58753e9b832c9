package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/postgres/pgtest"
	"github.com/keyward/keyward/store/storetest"
)

var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func open(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// Nodes starting together on an empty database must end with one schema:
// the session lock makes the second wait, then find nothing to do.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	const nodes = 3
	dbs := make([]*postgres.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open #%d: %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	rows, err := dbs[0].Pool().Query(t.Context(),
		`SELECT version_id, count(*) FROM goose_db_version WHERE is_applied GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	type applied struct{ Version, Count int64 }
	var got []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.Version, &a.Count); err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Version 0 is goose's own bootstrap row.
	want := []applied{{0, 1}, {1, 1}, {2, 1}, {3, 1}, {4, 1}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("goose_db_version (-want +got):\n%s", d)
	}
	// And the schema works through every handle.
	for i, db := range dbs {
		if _, err := db.Durable().Keys.List(t.Context()); err != nil {
			t.Errorf("node %d: list keys: %v", i, err)
		}
	}
}

func TestNotifierAcrossHandles(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subA, err := a.Notifier().Subscribe(ctx, "keys")
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Notifier().Subscribe(ctx, "keys")
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Notifier().Subscribe(ctx, "clients")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Durable().Notifier.Publish(t.Context(), "keys", "rotated"); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan string{"publisher": subA, "other node": subB} {
		select {
		case got := <-ch:
			if got != "rotated" {
				t.Errorf("%s received %q, want %q", name, got, "rotated")
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s received nothing", name)
		}
	}
	select {
	case got := <-other:
		t.Errorf("subscriber of another topic received %q", got)
	case <-time.After(200 * time.Millisecond):
	}

	cancel()
	select {
	case _, ok := <-subB:
		if ok {
			t.Error("channel delivered after the subscription ended")
		}
	case <-time.After(5 * time.Second):
		t.Error("channel not closed after ctx ended")
	}
}

// Two pools race to seed keys: exactly one wins and the store holds its
// keys only.
func TestKeysAddIfEmptyAcrossHandles(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dbs := []*postgres.Store{open(t, dsn), open(t, dsn)}
	const racers = 8
	won := make([]bool, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			k := &store.SigningKey{ID: string(rune('a' + i)), Alg: "ES256", Public: []byte("{}"), PrivateSealed: []byte{1}, CreatedAt: base}
			won[i], errs[i] = dbs[i%2].Durable().Keys.AddIfEmpty(t.Context(), []*store.SigningKey{k})
		})
	}
	wg.Wait()
	winners := 0
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if won[i] {
			winners++
		}
	}
	keys, err := dbs[0].Durable().Keys.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if winners != 1 || len(keys) != 1 {
		t.Errorf("winners = %d, keys = %d; want 1 and 1", winners, len(keys))
	}
}

// Purge removes at most limit rows per kind per call, so a backlog drains
// over several calls instead of one long lock.
func TestPurgeIsBounded(t *testing.T) {
	db := open(t, pgtest.NewDatabase(t))
	eph := db.Ephemeral()
	for i := range 5 {
		c := &store.Code{ID: string(rune('a' + i)), CreatedAt: base, ExpiresAt: base.Add(time.Minute)}
		if err := eph.Codes.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	later := base.Add(time.Hour)
	var got []int
	for range 4 {
		n, err := eph.Purger.Purge(t.Context(), later, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if d := cmp.Diff([]int{2, 2, 1, 0}, got); d != "" {
		t.Errorf("purged per call (-want +got):\n%s", d)
	}
}

func TestConsumeRaceAcrossHandles(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dbs := []*postgres.Store{open(t, dsn), open(t, dsn)}
	if err := dbs[0].Ephemeral().Codes.Create(t.Context(), &store.Code{ID: "c", GrantID: "g", CreatedAt: base, ExpiresAt: base.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	const racers = 16
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { _, errs[i] = dbs[i%2].Ephemeral().Codes.Consume(t.Context(), "c", base) })
	}
	wg.Wait()
	storetest.WantOneWinner(t, "consume", errs)
}

// The listener survives losing its connection: after the server kills it,
// notices flow again once it has reconnected.
func TestNotifierReconnects(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := open(t, dsn)
	sub, err := db.Notifier().Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	var killed int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN %'`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener connections, want 1", killed)
	}
	// Notices sent while it reconnects are lost (best effort), so keep
	// publishing until one arrives.
	deadline := time.After(15 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case got := <-sub:
			if got != "ping" {
				t.Fatalf("received %q, want %q", got, "ping")
			}
			return
		case <-tick.C:
			if err := db.Notifier().Publish(t.Context(), "t", "ping"); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("no notice after the listener's connection was killed")
		}
	}
}

// A long chain of rotations under a grant without expiry leaves two rows:
// the rotated predecessor (for replay detection) and the live token.
func TestRotationChainLeavesTwoRows(t *testing.T) {
	db := open(t, pgtest.NewDatabase(t))
	storetest.RotateChain(t, db.Durable(), "g", 100)
	var n int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*) FROM refresh_tokens WHERE grant_id = 'g'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("100 rotations left %d refresh-token rows, want 2", n)
	}
}

// Killing the LISTEN connection again and again keeps the reconnect delay
// at its minimum: the back-off starts afresh once LISTEN is back, instead
// of climbing to 10 s (during which every notice is lost).
// killListener terminates the notifier's LISTEN connection. A terminated
// backend can linger in pg_stat_activity for a moment, and on a loaded
// machine the new one can show up late there, so it waits (up to 10 s)
// until exactly one listener is listed.
func killListener(t *testing.T, db *postgres.Store, k int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var pids []int32
		rows, err := db.Pool().Query(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`)
		if err == nil {
			pids, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) == 1 {
			var killed bool
			if err := db.Pool().QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pids[0]).Scan(&killed); err != nil || !killed {
				t.Fatalf("kill %d: terminate listener %d: %v %v", k, pids[0], killed, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("kill %d: %d listener connections listed, want 1", k, len(pids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNotifierBackoffResets(t *testing.T) {
	db := open(t, pgtest.NewDatabase(t))
	var (
		mu     sync.Mutex
		delays []time.Duration
	)
	postgres.SetReconnectWait(db, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		return nil // reconnect at once; the test looks at the delay chosen
	})
	sub, err := db.Notifier().Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	const kills = 6
	for k := range kills {
		killListener(t, db, k)
		// Back in LISTEN once a notice gets through.
		payload := fmt.Sprintf("ping-%d", k)
		deadline := time.After(15 * time.Second)
		tick := time.NewTicker(20 * time.Millisecond)
	wait:
		for {
			select {
			case got := <-sub:
				if got == payload {
					break wait
				}
			case <-tick.C:
				if err := db.Notifier().Publish(t.Context(), "t", payload); err != nil {
					t.Fatal(err)
				}
			case <-deadline:
				t.Fatalf("kill %d: no notice after the listener's connection was killed", k)
			}
		}
		tick.Stop()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != kills {
		t.Fatalf("%d reconnect delays %v for %d kills, want one each", len(delays), delays, kills)
	}
	for i, d := range delays {
		if d != postgres.MinReconnectDelay {
			t.Errorf("reconnect %d waited %v, want %v: the back-off did not reset after LISTEN succeeded (all: %v)",
				i, d, postgres.MinReconnectDelay, delays)
		}
	}
}

// A key check that fails stops Open before it migrates an older schema: a
// node with the wrong master key must not upgrade a restored backup. The
// older schema is the current one with its last version unrecorded, so
// that Open has a migration to run.
func TestKeyCheckBeforeMigrating(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	db := open(t, dsn)
	k := &store.SigningKey{ID: "k1", Alg: "ES256", Public: []byte("{}"), PrivateSealed: []byte{7}, CreatedAt: base}
	if _, err := db.Durable().Keys.AddIfEmpty(ctx, []*store.SigningKey{k}); err != nil {
		t.Fatal(err)
	}
	pool := db.Pool()
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`); err != nil {
		t.Fatal(err)
	}
	var before int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&before); err != nil {
		t.Fatal(err)
	}

	errWrongKey := errors.New("wrong key")
	var gotID string
	_, err := postgres.Open(ctx, dsn, postgres.WithKeyCheck(func(_ context.Context, id string, sealed []byte) error {
		gotID = id
		return errWrongKey
	}))
	if !errors.Is(err, errWrongKey) {
		t.Fatalf("Open with a failing check: err = %v, want the check's error", err)
	}
	if gotID != "k1" {
		t.Errorf("check saw key %q, want k1", gotID)
	}
	var after int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("goose_db_version rows %d → %d after a failed check: a migration ran", before, after)
	}

	fresh, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.WithKeyCheck(func(context.Context, string, []byte) error {
		t.Error("check called on a database without keys")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	fresh.Close()
}
