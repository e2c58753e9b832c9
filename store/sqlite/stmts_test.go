package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/store"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (p *pool) size() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.stmts)
}

// The cache holds one statement per SQL text, not per call: many flows'
// worth of session steps leave it as one step left it.
func TestStatementCacheDoesNotGrowWithUse(t *testing.T) {
	db := openInternal(t)
	sessions := db.Ephemeral().AuthzSessions
	ctx := t.Context()
	now := time.Now()
	cycle := func(i int) {
		id := fmt.Sprintf("s%d", i)
		if err := sessions.Create(ctx, &store.AuthzSession{ID: id, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := sessions.Update(ctx, id, now, func(s *store.AuthzSession) error { s.Subject = "alice"; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := sessions.Get(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		if err := sessions.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	cycle(0)
	writers, readers := db.w.size(), db.r.size()
	if writers == 0 || readers == 0 {
		t.Fatalf("nothing cached: %d writer and %d reader statements", writers, readers)
	}
	for i := 1; i <= 500; i++ {
		cycle(i)
	}
	if db.w.size() != writers || db.r.size() != readers {
		t.Errorf("cache grew: writer %d → %d, reader %d → %d statements", writers, db.w.size(), readers, db.r.size())
	}
}

// Past the bound, statements still run, unprepared.
func TestStatementCacheIsBounded(t *testing.T) {
	db := openInternal(t)
	ctx := t.Context()
	for i := range maxCachedStatements + 50 {
		var n int
		if err := db.r.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("SELECT %d: %d, %v", i, n, err)
		}
	}
	if n := db.r.size(); n != maxCachedStatements {
		t.Errorf("%d statements cached, want the bound %d", n, maxCachedStatements)
	}
}

// A statement first seen inside a transaction while other callers prepare
// statements of the writer: the transaction holds the only writer
// connection, so a prepare waiting for it under the cache's lock would
// block the transaction's own cache lookup for ever. Every caller must
// finish.
func TestStatementCacheNoDeadlockWithTransactions(t *testing.T) {
	db := openInternal(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				q := fmt.Sprintf("SELECT %d", g*100+i%5)
				var err error
				if g%2 == 0 {
					err = db.inTx(ctx, func(tx *txn) error {
						var n int
						return tx.QueryRowContext(ctx, q).Scan(&n)
					})
				} else {
					_, err = db.w.ExecContext(ctx, q)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The statements first seen in transactions were prepared afterwards.
	if db.w.cached("SELECT 0") == nil {
		t.Error("a statement first run in a transaction was not prepared after it")
	}
}
