package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// BenchmarkAuthzSessionSteps runs what the session API does to an
// authorisation session in one code flow: create, two updates (the
// authentication and consent PUTs), read and delete. Statement preparation
// shows here: compare with -cpu 1 -benchmem before and after a change to
// store/sqlite/stmts.go.
func BenchmarkAuthzSessionSteps(b *testing.B) {
	sessions := newDB(b).Ephemeral().AuthzSessions
	ctx := b.Context()
	now := storetest.Base
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("s%d", i)
		s := &store.AuthzSession{ID: id, ExpiresAt: now.Add(time.Hour)}
		if err := sessions.Create(ctx, s); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if _, err := sessions.Update(ctx, id, now, func(s *store.AuthzSession) error { s.Subject = "alice"; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := sessions.Get(ctx, id, now); err != nil {
			b.Fatal(err)
		}
		if err := sessions.Delete(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
