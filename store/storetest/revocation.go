package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/store"
)

func revocationTests() []test[store.Durable] {
	return []test[store.Durable]{
		{"revocations/add_list", testRevocationAddList},
		{"revocations/add_exists", testRevocationExists},
		{"revocations/add_concurrent", testRevocationAddConcurrent},
		{"revocations/purge", testRevocationPurge},
	}
}

func fixtureRevocation(id string, kind store.RevocationKind, at time.Time) *store.Revocation {
	r := &store.Revocation{ID: id, Kind: kind, RevokedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	switch kind {
	case store.RevokeSubject:
		r.Subject = "alice"
	case store.RevokeClient:
		r.ClientID = "client-1"
	case store.RevokeAuthorization:
		r.Subject, r.ClientID = "alice", "client-1"
	case store.RevokeActor:
		r.Actor = "admin"
	case store.RevokeToken:
		r.TokenID = "jti-" + id
	}
	return r
}

func testRevocationAddList(t *testing.T, d store.Durable) {
	ctx := t.Context()
	// Added out of order, with a non-UTC offset and two at the same instant.
	tz := time.FixedZone("X", 3*3600)
	want := []*store.Revocation{
		fixtureRevocation("r-a", store.RevokeSubject, Base.Add(-3*time.Minute)),
		fixtureRevocation("r-b", store.RevokeClient, Base.Add(-2*time.Minute)),
		fixtureRevocation("r-c", store.RevokeAuthorization, Base.Add(-2*time.Minute)),
		fixtureRevocation("r-d", store.RevokeActor, Base.Add(-time.Minute)),
		fixtureRevocation("r-e", store.RevokeToken, Base),
	}
	for _, i := range []int{3, 0, 4, 2, 1} {
		in := *want[i]
		in.RevokedAt = in.RevokedAt.In(tz)
		must(t, "add", d.Revocations.Add(ctx, &in))
	}
	got, err := d.Revocations.ListLive(ctx, Base)
	must(t, "list", err)
	diff(t, "live entries", want, got)

	// An entry expiring exactly at now is no longer live.
	later, err := d.Revocations.ListLive(ctx, want[0].ExpiresAt)
	must(t, "list later", err)
	diff(t, "entries live at the first expiry", want[1:], later)
}

func testRevocationExists(t *testing.T, d store.Durable) {
	ctx := t.Context()
	must(t, "add", d.Revocations.Add(ctx, fixtureRevocation("r-1", store.RevokeSubject, Base)))
	err := d.Revocations.Add(ctx, fixtureRevocation("r-1", store.RevokeClient, Base))
	wantErr(t, "add same ID", err, store.ErrExists)
	got, err := d.Revocations.ListLive(ctx, Base)
	must(t, "list", err)
	if len(got) != 1 || got[0].Kind != store.RevokeSubject {
		t.Fatalf("after a refused duplicate: %+v", got)
	}
}

// Many nodes revoking at once (the same subject, racing) each keep their
// entry: the journal is append-only, nothing is lost to a lost update.
func testRevocationAddConcurrent(t *testing.T, d store.Durable) {
	ctx := t.Context()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range Goroutines {
		wg.Go(func() {
			if err := d.Revocations.Add(ctx, fixtureRevocation(id("r", i), store.RevokeSubject, Base)); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d concurrent adds failed", n)
	}
	got, err := d.Revocations.ListLive(ctx, Base)
	must(t, "list", err)
	if len(got) != Goroutines {
		t.Fatalf("%d entries after %d concurrent adds", len(got), Goroutines)
	}
}

// The durable purger removes expired journal entries, at most limit per
// call, and leaves the live ones: the journal stays bounded by the longest
// access-token lifetime.
func testRevocationPurge(t *testing.T, d store.Durable) {
	ctx := t.Context()
	const expired, live, limit = 7, 2, 3
	for i := range expired {
		r := fixtureRevocation(id("r-exp", i), store.RevokeSubject, Base.Add(-time.Hour))
		r.ExpiresAt = Base.Add(-time.Duration(i) * time.Second) // the first expires exactly at now
		must(t, "add", d.Revocations.Add(ctx, r))
	}
	for i := range live {
		r := fixtureRevocation(id("r-live", i), store.RevokeClient, Base.Add(-time.Hour))
		r.ExpiresAt = Base.Add(time.Millisecond)
		must(t, "add", d.Revocations.Add(ctx, r))
	}
	total := 0
	for range 5 {
		n, err := d.Purger.Purge(ctx, Base, limit)
		must(t, "purge", err)
		if n > limit {
			t.Fatalf("one purge removed %d entries, limit %d", n, limit)
		}
		total += n
	}
	if total != expired {
		t.Errorf("purges removed %d entries, want %d", total, expired)
	}
	// Read back at an earlier time: the rows are gone, not just hidden.
	left, err := d.Revocations.ListLive(ctx, Base.Add(-24*time.Hour))
	must(t, "list", err)
	if len(left) != live {
		t.Errorf("%d entries left after the purge, want the %d live ones", len(left), live)
	}
	for _, r := range left {
		if r.Kind != store.RevokeClient {
			t.Errorf("left behind: %+v", r)
		}
	}
}
