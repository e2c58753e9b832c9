package postgres_test

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/postgres/pgtest"
)

// Keys come from the network (client_id, session IDs …); text that
// PostgreSQL cannot store (NUL, invalid UTF-8) must read as "not found",
// never surface as a driver error that the HTTP layer would turn into a
// 500. (Replay-cache keys are not among them: the core hashes them first,
// see store.ReplayCache.)
func TestUnstorableKeys(t *testing.T) {
	db := open(t, pgtest.NewDatabase(t))
	d, e := db.Durable(), db.Ephemeral()
	ctx := t.Context()
	now := base
	for _, key := range []string{"a\x00b", "\xff\xfe"} {
		lookups := map[string]error{}
		_, lookups["client get"] = d.Clients.Get(ctx, key)
		lookups["client delete"] = d.Clients.Delete(ctx, key)
		_, lookups["client update"] = d.Clients.Update(ctx, key, func(*store.Client) error { return nil })
		_, lookups["authorisation get"] = d.Authorizations.Get(ctx, key, key)
		lookups["authorisation delete"] = d.Authorizations.Delete(ctx, key, "c")
		_, lookups["grant get"] = d.Grants.Get(ctx, key, now)
		lookups["grant delete"] = d.Grants.Delete(ctx, key)
		_, lookups["refresh get"] = d.RefreshTokens.Get(ctx, key, now)
		lookups["refresh touch"] = d.RefreshTokens.Touch(ctx, key, now)
		_, lookups["refresh rotate"] = d.RefreshTokens.Rotate(ctx, key, now, &store.RefreshToken{ID: "n", GrantID: "g", CreatedAt: now})
		_, lookups["access get"] = d.AccessTokens.Get(ctx, key, now)
		lookups["access delete"] = d.AccessTokens.Delete(ctx, key)
		_, lookups["authz session get"] = e.AuthzSessions.Get(ctx, key, now)
		_, lookups["authz session update"] = e.AuthzSessions.Update(ctx, key, now, func(*store.AuthzSession) error { return nil })
		lookups["authz session delete"] = e.AuthzSessions.Delete(ctx, key)
		_, lookups["subject session get"] = e.SubjectSessions.Get(ctx, key, now)
		_, lookups["subject session delete"] = e.SubjectSessions.Delete(ctx, key)
		_, lookups["code consume"] = e.Codes.Consume(ctx, key, now)
		_, lookups["par consume"] = e.PAR.Consume(ctx, key, now)
		for op, err := range lookups {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s(%q): err = %v, want ErrNotFound", op, key, err)
			}
		}
		list, err := e.SubjectSessions.ListBySubject(ctx, key, now)
		if err != nil || len(list) != 0 {
			t.Errorf("ListBySubject(%q) = %d sessions, %v; want none, nil", key, len(list), err)
		}
	}
}
