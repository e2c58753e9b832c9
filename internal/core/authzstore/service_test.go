package authzstore

import (
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *Service
	dur   store.Durable
	clock *testclock.Clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ms, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dur := ms.Durable()
	for _, id := range []string{"c1", "c2"} {
		if err := dur.Clients.Create(t.Context(), &store.Client{ID: id, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	clock := testclock.New(t0.Add(3 * time.Hour))
	return &fixture{
		svc: &Service{
			Issuer: "https://op.example", Authorizations: dur.Authorizations, Clients: dur.Clients,
			Revoker: GrantRevoker{Grants: dur.Grants, Authorizations: dur.Authorizations, Now: clock.Now},
			Now:     clock.Now,
		},
		dur: dur, clock: clock,
	}
}

func (f *fixture) grant(t *testing.T, id, sub, cid string, created time.Time) {
	t.Helper()
	g := &store.Grant{ID: id, Subject: sub, ClientID: cid, CreatedAt: created, AuthTime: created,
		Consented: store.Consented{Scope: []string{"openid"}}}
	if err := f.dur.Grants.Create(t.Context(), g); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) authz(t *testing.T, sub, cid string, updated time.Time) {
	t.Helper()
	a := &store.Authorization{Subject: sub, ClientID: cid, Consented: store.Consented{Scope: []string{"openid"}},
		CreatedAt: updated, UpdatedAt: updated}
	if err := f.dur.Authorizations.Put(t.Context(), a); err != nil {
		t.Fatal(err)
	}
}

// TestRevokeTimestamp: with timestamp, only what was issued (grants) or
// last updated (long-lived authorisations) at or before it is revoked.
func TestRevokeTimestamp(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.grant(t, "old", "alice", "c1", t0)
	f.grant(t, "new", "alice", "c1", t0.Add(2*time.Hour))
	f.grant(t, "bobs", "bob", "c1", t0)
	f.authz(t, "alice", "c1", t0.Add(time.Hour))
	f.authz(t, "alice", "c2", t0)

	ts := strconv.FormatInt(t0.Add(30*time.Minute).Unix(), 10)
	removed, quiet, err := f.svc.Revoke(ctx, nil, url.Values{"subject": {"alice"}, "timestamp": {ts}})
	if err != nil || quiet {
		t.Fatalf("revoke: %v (quiet %v)", err, quiet)
	}
	if len(removed) != 1 || removed[0].ClientID != "c2" {
		t.Errorf("removed %+v, want alice/c2 only", removed)
	}
	for id, want := range map[string]error{"old": store.ErrNotFound, "new": nil, "bobs": nil} {
		if _, err := f.dur.Grants.Get(ctx, id, f.clock.Now()); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("grant %s: %v, want %v", id, err, want)
		}
	}
	if _, err := f.dur.Authorizations.Get(ctx, "alice", "c1"); err != nil {
		t.Errorf("alice/c1, updated after the timestamp, was removed: %v", err)
	}

	// Without a timestamp everything of alice goes.
	removed, _, err = f.svc.Revoke(ctx, url.Values{"quiet": {"true"}}, url.Values{"subject": {"alice"}})
	if err != nil || len(removed) != 1 {
		t.Fatalf("revoke all: %v, removed %d", err, len(removed))
	}
	if l, _ := f.dur.Grants.List(ctx, store.GrantFilter{Subject: "alice"}, f.clock.Now()); len(l) != 0 {
		t.Errorf("alice still has %d grants", len(l))
	}
}

// TestRevokeCombined: subject and client_id together revoke only their
// pair; an actor matches nothing, alone or combined.
func TestRevokeCombined(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, k := range [][2]string{{"alice", "c1"}, {"alice", "c2"}, {"bob", "c1"}} {
		f.authz(t, k[0], k[1], t0)
		f.grant(t, k[0]+k[1], k[0], k[1], t0)
	}
	removed, _, err := f.svc.Revoke(ctx, nil, url.Values{"subject": {"alice"}, "actor": {"admin"}})
	if err != nil || len(removed) != 0 {
		t.Fatalf("by subject and actor: %v, removed %d", err, len(removed))
	}
	removed, _, err = f.svc.Revoke(ctx, nil, url.Values{"subject": {"alice"}, "client_id": {"c1"}})
	if err != nil || len(removed) != 1 || removed[0].Subject != "alice" || removed[0].ClientID != "c1" {
		t.Fatalf("by subject and client: %v, %+v", err, removed)
	}
	left, _ := f.dur.Authorizations.List(ctx, "", "c1")
	if len(left) != 1 || left[0].Subject != "bob" {
		t.Errorf("c1 keeps %+v, want bob only", left)
	}
	if _, err := f.dur.Grants.Get(ctx, "alicec2", f.clock.Now()); err != nil {
		t.Errorf("alice/c2 grant: %v", err)
	}
}

// TestAddKeepsExportTimes: "iat" from an export is kept on add and on an
// update that omits it; without "iat" the time is now.
func TestAddKeepsExportTimes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	got, err := f.svc.Add(ctx, nil, []byte(`{"sub":"alice","cid":"c1","scp":["openid"],"iat":1700000000}`))
	if err != nil || got.IssuedAt != 1700000000 {
		t.Fatalf("add: %v, iat %d", err, got.IssuedAt)
	}
	f.clock.Advance(time.Hour)
	got, err = f.svc.Update(ctx, nil, []byte(`{"sub":"alice","cid":"c1","scp":["openid","email"]}`))
	if err != nil || got.IssuedAt != 1700000000 || !slices.Equal(got.Scope, []string{"openid", "email"}) {
		t.Fatalf("update: %v, %+v", err, got)
	}
	stored, _ := f.dur.Authorizations.Get(ctx, "alice", "c1")
	if !stored.UpdatedAt.Equal(f.clock.Now()) {
		t.Errorf("UpdatedAt %v, want %v", stored.UpdatedAt, f.clock.Now())
	}
	got, err = f.svc.Add(ctx, nil, []byte(`{"sub":"bob","cid":"c1","scp":["openid"]}`))
	if err != nil || got.IssuedAt != f.clock.Now().Unix() {
		t.Fatalf("add without iat: %v, iat %d", err, got.IssuedAt)
	}
}

// FuzzDecodeAuthorization: no body panics the decoder or the validation,
// and whatever is accepted converts to a record and back unchanged.
func FuzzDecodeAuthorization(f *testing.F) {
	for _, s := range []string{
		`{"sub":"alice","cid":"c1","scp":["openid"]}`,
		`{"sub":"a","cid":"c","scp":["openid","email"],"clm":["email"],"uip":{"x":1},"atl":600,"irt":true,"rtl":0,"lng":true,"iat":5,"ats":"PUBLIC","rti":1}`,
		`{"sub":null,"scp":{},"atl":1e99}`, `[]`, `null`, `{"act":{}}`, `{"sub":"a"}{"sub":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeAuthorization(body)
		if err != nil {
			if oauth.AsError(err) == nil {
				t.Fatalf("not an OAuth error: %v", err)
			}
			return
		}
		if err := a.validate("https://op.example"); err != nil {
			return
		}
		rec := a.toStore(t0, t0)
		back := FromStore(rec, "https://op.example")
		if back.Subject != a.Subject || back.ClientID != a.ClientID || !slices.Equal(back.Scope, a.Scope) ||
			back.AccessTokenLifetime != a.AccessTokenLifetime || back.RefreshTokenLifetime != a.RefreshTokenLifetime ||
			back.AccessTokenSubjectType != strings.TrimPrefix(a.AccessTokenSubjectType, "PUBLIC") {
			t.Fatalf("round trip changed %+v into %+v", a, back)
		}
	})
}
