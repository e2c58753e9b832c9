package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/store"
)

func durableTests() []test[store.Durable] {
	return append([]test[store.Durable]{
		{"clients/create_get", testClientCreateGet},
		{"clients/create_exists", testClientExists},
		{"clients/get_not_found", testClientNotFound},
		{"clients/update", testClientUpdate},
		{"clients/update_fn_error", testClientUpdateFnError},
		{"clients/update_not_found", testClientUpdateNotFound},
		{"clients/update_concurrent", testClientUpdateConcurrent},
		{"clients/delete", testClientDelete},
		{"clients/delete_removes_what_was_issued", testClientDeleteRemovesIssued},
		{"clients/list_paging", testClientList},
		{"clients/no_aliasing", testClientNoAliasing},
		{"clients/time_round_trip", testClientTimes},
		{"clients/bytes_round_trip", testClientBytes},
		{"clients/large_json", testClientLargeJSON},
		{"grants/create_get", testGrantCreateGet},
		{"grants/expiry", testGrantExpiry},
		{"grants/delete_cascades", testGrantDeleteCascades},
		{"grants/delete_matching", testGrantDeleteMatching},
		{"grants/list", testGrantList},
		{"grants/time_round_trip", testGrantTimes},
		{"confirmation/round_trip", testConfirmation},
		{"grants/large_json", testGrantLargeJSON},
		{"refresh_tokens/create_get", testRefreshCreateGet},
		{"refresh_tokens/requires_grant", testRefreshRequiresGrant},
		{"refresh_tokens/expiry", testRefreshExpiry},
		{"refresh_tokens/touch", testRefreshTouch},
		{"refresh_tokens/rotate", testRefreshRotate},
		{"refresh_tokens/rotate_not_found", testRefreshRotateNotFound},
		{"refresh_tokens/rotate_concurrent", testRefreshRotateConcurrent},
		{"refresh_tokens/rotate_keeps_one_generation", testRefreshRotateKeepsOneGeneration},
		{"refresh_tokens/rotate_races_revocation", testRefreshRotateRacesRevocation},
		{"refresh_tokens/time_round_trip", testRefreshTimes},
		{"access_tokens/create_get_delete", testAccessCreateGetDelete},
		{"access_tokens/requires_grant", testAccessRequiresGrant},
		{"access_tokens/expiry", testAccessExpiry},
		{"access_tokens/time_round_trip", testAccessTimes},
		{"authorizations/put_get_replace", testAuthorizationPut},
		{"authorizations/delete", testAuthorizationDelete},
		{"authorizations/list", testAuthorizationList},
		{"authorizations/large_json_and_times", testAuthorizationLarge},
		{"authorizations/subjects_clients_paging", testAuthorizationDistinct},
		{"authorizations/paging_many_each_once", testAuthorizationDistinctMany},
		{"keys/add_if_empty", testKeysAddIfEmpty},
		{"keys/add_if_empty_concurrent", testKeysAddIfEmptyConcurrent},
		{"keys/rotate", testKeysRotate},
		{"keys/rotate_atomic", testKeysRotateAtomic},
		{"keys/delete_retired", testKeysDeleteRetired},
		{"keys/round_trip", testKeysRoundTrip},
		{"purge", testDurablePurge},
		{"notifier", testNotifier},
	}, revocationTests()...)
}

// ---- fixtures ----

func fixtureClient(id string) *store.Client {
	maxAge := int64(3600)
	return &store.Client{
		ID:                    id,
		SecretHash:            []byte{0x01, 0x00, 0xff, 0x10},
		SecretSealed:          []byte("sealed\x00secret"),
		SecretExpiresAt:       Base.Add(24 * time.Hour),
		RegistrationTokenHash: []byte{0xde, 0xad, 0xbe, 0xef},
		Metadata: store.ClientMetadata{
			RedirectURIs:            []string{"https://rp.example/cb", "https://rp.example/cb2"},
			ResponseTypes:           []string{"code"},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ClientName:              "Client " + id,
			JWKS:                    json.RawMessage(`{"keys":[{"kty":"EC","crv":"P-256"}]}`),
			TokenEndpointAuthMethod: "client_secret_basic",
			DefaultMaxAge:           &maxAge,
			RequireAuthTime:         true,
			Data:                    map[string]any{"tier": "gold", "quota": 10.0, "tags": []any{"a", "b"}},
		},
		CreatedAt: Base,
		UpdatedAt: Base,
	}
}

func fixtureGrant(id, subject, clientID string, created time.Time) *store.Grant {
	return &store.Grant{
		ID:       id,
		Subject:  subject,
		ClientID: clientID,
		Consented: store.Consented{
			Scope:               []string{"openid", "email"},
			Claims:              []string{"email", "id_token:name"},
			PresetIDTokenClaims: map[string]any{"group": "admin"},
			Audience:            []string{"https://api.example"},
			Data:                map[string]any{"k": "v"},
		},
		Tokens: store.TokenSpec{
			AccessTokenLifetime:  10 * time.Minute,
			AccessTokenEncoding:  "identifier",
			IssueRefreshToken:    true,
			RefreshTokenLifetime: 30 * 24 * time.Hour,
			RotateRefreshToken:   true,
		},
		LongLived:        true,
		SubjectSessionID: "ss-" + id,
		AuthTime:         created.Add(-time.Minute),
		ACR:              "urn:acr:pwd",
		AMR:              []string{"pwd", "otp"},
		CreatedAt:        created,
		ExpiresAt:        created.Add(90 * 24 * time.Hour),
	}
}

func fixtureRefresh(id, grantID string) *store.RefreshToken {
	return &store.RefreshToken{
		ID:        id,
		GrantID:   grantID,
		ClientID:  "client-1",
		CreatedAt: Base,
		ExpiresAt: Base.Add(24 * time.Hour),
	}
}

func fixtureAccess(id, grantID string) *store.AccessToken {
	return &store.AccessToken{
		ID:        id,
		GrantID:   grantID,
		ClientID:  "client-1",
		Subject:   "alice",
		Scope:     []string{"openid", "email"},
		CreatedAt: Base,
		ExpiresAt: Base.Add(10 * time.Minute),
	}
}

func fixtureAuthorization(subject, clientID string) *store.Authorization {
	return &store.Authorization{
		Subject:  subject,
		ClientID: clientID,
		Consented: store.Consented{
			Scope:         []string{"openid", "profile"},
			Claims:        []string{"name"},
			ClaimsLocales: []string{"de", "en"},
		},
		Tokens:    store.TokenSpec{AccessTokenLifetime: time.Hour, IssueRefreshToken: true},
		CreatedAt: Base,
		UpdatedAt: Base,
	}
}

func fixtureKey(id, alg string, created time.Time) *store.SigningKey {
	return &store.SigningKey{
		ID:            id,
		Alg:           alg,
		Public:        []byte(`{"kty":"RSA","kid":"` + id + `"}`),
		PrivateSealed: append([]byte{0x00, 0xff}, id...),
		CreatedAt:     created,
	}
}

// mustGrant stores a grant for alice/client-1 created at Base.
func mustGrant(t *testing.T, d store.Durable, id string) *store.Grant {
	t.Helper()
	g := fixtureGrant(id, "alice", "client-1", Base)
	must(t, "create grant", d.Grants.Create(t.Context(), g))
	return g
}

// ---- clients ----

func testClientCreateGet(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	must(t, "create", d.Clients.Create(ctx, c))
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client", c, got)
}

func testClientExists(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	must(t, "create", d.Clients.Create(ctx, c))
	dup := fixtureClient("client-1")
	dup.Metadata.ClientName = "impostor"
	wantErr(t, "second create", d.Clients.Create(ctx, dup), store.ErrExists)
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client after failed create", c, got)
}

func testClientNotFound(t *testing.T, d store.Durable) {
	_, err := d.Clients.Get(t.Context(), "nope")
	wantErr(t, "get unknown", err, store.ErrNotFound)
}

func testClientUpdate(t *testing.T, d store.Durable) {
	ctx := t.Context()
	must(t, "create", d.Clients.Create(ctx, fixtureClient("client-1")))
	want := fixtureClient("client-1")
	want.Metadata.ClientName = "renamed"
	want.Metadata.Data["k"] = "v"
	want.SecretHash = []byte{9, 9}
	want.UpdatedAt = Base.Add(time.Minute)
	got, err := d.Clients.Update(ctx, "client-1", func(c *store.Client) error {
		c.Metadata.ClientName = "renamed"
		c.Metadata.Data["k"] = "v"
		c.SecretHash = []byte{9, 9}
		c.UpdatedAt = Base.Add(time.Minute)
		return nil
	})
	must(t, "update", err)
	diff(t, "update result", want, got)
	got, err = d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "stored client", want, got)
}

func testClientUpdateFnError(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	must(t, "create", d.Clients.Create(ctx, c))
	_, err := d.Clients.Update(ctx, "client-1", func(c *store.Client) error {
		c.Metadata.ClientName = "half-done"
		return errBoom
	})
	wantErr(t, "update", err, errBoom)
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client after aborted update", c, got)
}

func testClientUpdateNotFound(t *testing.T, d store.Durable) {
	called := false
	_, err := d.Clients.Update(t.Context(), "nope", func(*store.Client) error { called = true; return nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
	if called {
		t.Error("update fn called for an unknown client")
	}
}

func testClientUpdateConcurrent(t *testing.T, d store.Durable) {
	ctx := t.Context()
	must(t, "create", d.Clients.Create(ctx, fixtureClient("client-1")))
	errs := concurrently(func(int) error {
		return retryConflict(func() error {
			_, err := d.Clients.Update(ctx, "client-1", func(c *store.Client) error {
				increment(&c.Metadata.Data)
				return nil
			})
			return err
		})
	})
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	wantNoLostUpdates(t, errs, got.Metadata.Data)
}

func testClientDelete(t *testing.T, d store.Durable) {
	ctx := t.Context()
	must(t, "create", d.Clients.Create(ctx, fixtureClient("client-1")))
	must(t, "create", d.Clients.Create(ctx, fixtureClient("client-2")))
	must(t, "delete", d.Clients.Delete(ctx, "client-1"))
	_, err := d.Clients.Get(ctx, "client-1")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", d.Clients.Delete(ctx, "client-1"), store.ErrNotFound)
	if _, err := d.Clients.Get(ctx, "client-2"); err != nil {
		t.Errorf("other client: %v", err)
	}
}

// Deleting a client removes its grants, their tokens and its
// authorisations, so that a client registered again under the same ID
// inherits nothing; another client's records stay.
func testClientDeleteRemovesIssued(t *testing.T, d store.Durable) {
	ctx := t.Context()
	for _, c := range []string{"client-1", "client-2"} {
		must(t, "create client", d.Clients.Create(ctx, fixtureClient(c)))
		for _, sub := range []string{"alice", "bob"} {
			gid := "g-" + c + "-" + sub
			must(t, "create grant", d.Grants.Create(ctx, fixtureGrant(gid, sub, c, Base)))
			must(t, "create refresh", d.RefreshTokens.Create(ctx, fixtureRefresh("rt-"+gid, gid)))
			must(t, "create access", d.AccessTokens.Create(ctx, fixtureAccess("at-"+gid, gid)))
			must(t, "put authorisation", d.Authorizations.Put(ctx, fixtureAuthorization(sub, c)))
		}
	}
	must(t, "delete client-1", d.Clients.Delete(ctx, "client-1"))
	// Registered again with the same ID: nothing of the old one is usable.
	must(t, "re-create client-1", d.Clients.Create(ctx, fixtureClient("client-1")))
	for _, c := range []string{"client-1", "client-2"} {
		want := error(nil)
		if c == "client-1" {
			want = store.ErrNotFound
		}
		for _, sub := range []string{"alice", "bob"} {
			gid := "g-" + c + "-" + sub
			if _, err := d.Grants.Get(ctx, gid, Base); !errors.Is(err, want) {
				t.Errorf("grant %s: err = %v, want %v", gid, err, want)
			}
			if _, err := d.RefreshTokens.Get(ctx, "rt-"+gid, Base); !errors.Is(err, want) {
				t.Errorf("refresh token of %s: err = %v, want %v", gid, err, want)
			}
			if _, err := d.AccessTokens.Get(ctx, "at-"+gid, Base); !errors.Is(err, want) {
				t.Errorf("access token of %s: err = %v, want %v", gid, err, want)
			}
			if _, err := d.Authorizations.Get(ctx, sub, c); !errors.Is(err, want) {
				t.Errorf("authorisation of %s for %s: err = %v, want %v", sub, c, err, want)
			}
		}
	}
	// Deleting an unknown client removes nothing.
	wantErr(t, "delete unknown", d.Clients.Delete(ctx, "client-3"), store.ErrNotFound)
	if got, err := d.Grants.List(ctx, store.GrantFilter{ClientID: "client-2"}, Base); err != nil || len(got) != 2 {
		t.Errorf("grants of client-2 after deleting an unknown client: %d, %v; want 2", len(got), err)
	}
}

func testClientList(t *testing.T, d store.Durable) {
	ctx := t.Context()
	for _, i := range []int{5, 1, 3, 4, 2} {
		must(t, "create", d.Clients.Create(ctx, fixtureClient(id("c", i))))
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"c-01", "c-02"}},
		{"c-02", 2, []string{"c-03", "c-04"}},
		{"c-04", 2, []string{"c-05"}},
		{"c-05", 2, nil},
		{"", 10, []string{"c-01", "c-02", "c-03", "c-04", "c-05"}},
		{"c-025", 1, []string{"c-03"}},
	} {
		got, err := d.Clients.List(ctx, tc.after, tc.limit)
		must(t, "list", err)
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		diff(t, "list after "+tc.after, tc.want, ids)
	}
	got, err := d.Clients.List(ctx, "", 1)
	must(t, "list", err)
	if len(got) == 1 {
		diff(t, "listed client", fixtureClient("c-01"), got[0])
	}
}

func testClientNoAliasing(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	must(t, "create", d.Clients.Create(ctx, c))
	c.Metadata.RedirectURIs[0] = "https://evil.example/"
	c.Metadata.Data["tier"] = "none"
	c.SecretHash[0] = 0x77
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client after caller mutated input", fixtureClient("client-1"), got)
	got.Metadata.RedirectURIs[0] = "https://evil.example/"
	got.Metadata.Data["tier"] = "none"
	got.SecretHash[0] = 0x77
	again, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client after caller mutated output", fixtureClient("client-1"), again)
}

func testClientTimes(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	c.SecretExpiresAt, c.CreatedAt, c.UpdatedAt = zoned(time.Hour), zoned(0), zoned(time.Second)
	must(t, "create", d.Clients.Create(ctx, c))
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	checkTime(t, "SecretExpiresAt", c.SecretExpiresAt, got.SecretExpiresAt)
	checkTime(t, "CreatedAt", c.CreatedAt, got.CreatedAt)
	checkTime(t, "UpdatedAt", c.UpdatedAt, got.UpdatedAt)

	// A zero time means "never" and must stay zero.
	c2 := fixtureClient("client-2")
	c2.SecretExpiresAt = time.Time{}
	must(t, "create", d.Clients.Create(ctx, c2))
	got, err = d.Clients.Get(ctx, "client-2")
	must(t, "get", err)
	if !got.SecretExpiresAt.IsZero() {
		t.Errorf("zero SecretExpiresAt came back as %v", got.SecretExpiresAt)
	}
}

func testClientBytes(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	c.SecretHash = allBytes()
	c.SecretSealed = slices.Concat(allBytes(), allBytes())
	c.RegistrationTokenHash = []byte{0, 0, 0}
	must(t, "create", d.Clients.Create(ctx, c))
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "SecretHash", c.SecretHash, got.SecretHash)
	diff(t, "SecretSealed", c.SecretSealed, got.SecretSealed)
	diff(t, "RegistrationTokenHash", c.RegistrationTokenHash, got.RegistrationTokenHash)
}

func testClientLargeJSON(t *testing.T, d store.Durable) {
	ctx := t.Context()
	c := fixtureClient("client-1")
	c.Metadata.Data = largeJSON()
	must(t, "create", d.Clients.Create(ctx, c))
	got, err := d.Clients.Get(ctx, "client-1")
	must(t, "get", err)
	diff(t, "client with large data", c, got)
}

// ---- grants ----

func testGrantCreateGet(t *testing.T, d store.Durable) {
	ctx := t.Context()
	g := fixtureGrant("g1", "alice", "client-1", Base)
	must(t, "create", d.Grants.Create(ctx, g))
	got, err := d.Grants.Get(ctx, "g1", Base)
	must(t, "get", err)
	diff(t, "grant", g, got)

	dup := fixtureGrant("g1", "bob", "client-2", Base)
	wantErr(t, "duplicate create", d.Grants.Create(ctx, dup), store.ErrExists)
	_, err = d.Grants.Get(ctx, "nope", Base)
	wantErr(t, "get unknown", err, store.ErrNotFound)
}

func testGrantExpiry(t *testing.T, d store.Durable) {
	ctx := t.Context()
	g := fixtureGrant("g1", "alice", "client-1", Base)
	g.ExpiresAt = Base.Add(time.Hour)
	must(t, "create", d.Grants.Create(ctx, g))
	never := fixtureGrant("g2", "alice", "client-1", Base)
	never.ExpiresAt = time.Time{}
	must(t, "create", d.Grants.Create(ctx, never))

	for _, tc := range []struct {
		id   string
		now  time.Time
		want error
	}{
		{"g1", Base.Add(time.Hour - time.Millisecond), nil},
		{"g1", Base.Add(time.Hour), store.ErrNotFound},
		{"g1", Base.Add(2 * time.Hour), store.ErrNotFound},
		{"g2", Base.Add(100 * 365 * 24 * time.Hour), nil},
	} {
		got, err := d.Grants.Get(ctx, tc.id, tc.now)
		if !errors.Is(err, tc.want) {
			t.Errorf("get %s at %v: err = %v, want %v", tc.id, tc.now, err, tc.want)
		}
		if err == nil && got.ID != tc.id {
			t.Errorf("get %s: got ID %q", tc.id, got.ID)
		}
	}
}

func testGrantDeleteCascades(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	mustGrant(t, d, "g2")
	must(t, "rt1", d.RefreshTokens.Create(ctx, fixtureRefresh("rt1", "g1")))
	must(t, "rt2", d.RefreshTokens.Create(ctx, fixtureRefresh("rt2", "g1")))
	must(t, "rt3", d.RefreshTokens.Create(ctx, fixtureRefresh("rt3", "g2")))
	must(t, "at1", d.AccessTokens.Create(ctx, fixtureAccess("at1", "g1")))
	must(t, "at2", d.AccessTokens.Create(ctx, fixtureAccess("at2", "g2")))
	// A rotated token must go with its grant too.
	_, err := d.RefreshTokens.Rotate(ctx, "rt2", Base, fixtureRefresh("rt2b", "g1"))
	must(t, "rotate", err)

	must(t, "delete g1", d.Grants.Delete(ctx, "g1"))
	_, err = d.Grants.Get(ctx, "g1", Base)
	wantErr(t, "get deleted grant", err, store.ErrNotFound)
	for _, id := range []string{"rt1", "rt2", "rt2b"} {
		_, err := d.RefreshTokens.Get(ctx, id, Base)
		wantErr(t, "refresh token "+id+" of deleted grant", err, store.ErrNotFound)
	}
	_, err = d.AccessTokens.Get(ctx, "at1", Base)
	wantErr(t, "access token of deleted grant", err, store.ErrNotFound)

	if _, err := d.RefreshTokens.Get(ctx, "rt3", Base); err != nil {
		t.Errorf("refresh token of other grant: %v", err)
	}
	if _, err := d.AccessTokens.Get(ctx, "at2", Base); err != nil {
		t.Errorf("access token of other grant: %v", err)
	}
	wantErr(t, "delete again", d.Grants.Delete(ctx, "g1"), store.ErrNotFound)
}

func testGrantDeleteMatching(t *testing.T, d store.Durable) {
	seed := func(t *testing.T, d store.Durable) {
		ctx := t.Context()
		for _, g := range []*store.Grant{
			fixtureGrant("g-alice-1", "alice", "client-1", Base),
			fixtureGrant("g-alice-2", "alice", "client-2", Base),
			fixtureGrant("g-bob-1", "bob", "client-1", Base),
		} {
			must(t, "create grant", d.Grants.Create(ctx, g))
			must(t, "create refresh", d.RefreshTokens.Create(ctx, fixtureRefresh("rt-"+g.ID, g.ID)))
			must(t, "create access", d.AccessTokens.Create(ctx, fixtureAccess("at-"+g.ID, g.ID)))
		}
	}
	all := []string{"g-alice-1", "g-alice-2", "g-bob-1"}
	for _, tc := range []struct {
		name    string
		filter  store.GrantFilter
		removed []string
	}{
		{"subject", store.GrantFilter{Subject: "alice"}, []string{"g-alice-1", "g-alice-2"}},
		{"client", store.GrantFilter{ClientID: "client-1"}, []string{"g-alice-1", "g-bob-1"}},
		{"both", store.GrantFilter{Subject: "alice", ClientID: "client-2"}, []string{"g-alice-2"}},
		{"none_match", store.GrantFilter{Subject: "carol"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The outer store is shared by these steps, so clean it up first.
			ctx := t.Context()
			for _, id := range all {
				_ = d.Grants.Delete(ctx, id)
			}
			seed(t, d)
			n, err := d.Grants.DeleteMatching(ctx, tc.filter)
			must(t, "delete matching", err)
			if n != len(tc.removed) {
				t.Errorf("removed %d grants, want %d", n, len(tc.removed))
			}
			for _, id := range all {
				want := error(nil)
				if slices.Contains(tc.removed, id) {
					want = store.ErrNotFound
				}
				if _, err := d.Grants.Get(ctx, id, Base); !errors.Is(err, want) {
					t.Errorf("grant %s: err = %v, want %v", id, err, want)
				}
				if _, err := d.RefreshTokens.Get(ctx, "rt-"+id, Base); !errors.Is(err, want) {
					t.Errorf("refresh token of %s: err = %v, want %v", id, err, want)
				}
				if _, err := d.AccessTokens.Get(ctx, "at-"+id, Base); !errors.Is(err, want) {
					t.Errorf("access token of %s: err = %v, want %v", id, err, want)
				}
			}
		})
	}
	t.Run("empty_filter_refused", func(t *testing.T) {
		ctx := t.Context()
		for _, id := range all {
			_ = d.Grants.Delete(ctx, id)
		}
		seed(t, d)
		if _, err := d.Grants.DeleteMatching(ctx, store.GrantFilter{}); err == nil {
			t.Error("DeleteMatching with an empty filter succeeded; it must refuse")
		}
		for _, id := range all {
			if _, err := d.Grants.Get(ctx, id, Base); err != nil {
				t.Errorf("grant %s after refused delete: %v", id, err)
			}
		}
	})
}

func testGrantList(t *testing.T, d store.Durable) {
	ctx := t.Context()
	expired := fixtureGrant("g-expired", "alice", "client-1", Base.Add(-time.Hour))
	expired.ExpiresAt = Base
	never := fixtureGrant("g-never", "alice", "client-2", Base.Add(-2*time.Hour))
	never.ExpiresAt = time.Time{}
	grants := []*store.Grant{
		fixtureGrant("g-old", "alice", "client-1", Base.Add(-3*time.Hour)),
		fixtureGrant("g-new", "alice", "client-1", Base.Add(-time.Minute)),
		never,
		expired,
		fixtureGrant("g-bob", "bob", "client-1", Base.Add(-30*time.Minute)),
	}
	for _, g := range grants {
		must(t, "create", d.Grants.Create(ctx, g))
	}
	for _, tc := range []struct {
		name   string
		filter store.GrantFilter
		want   []string
	}{
		{"subject", store.GrantFilter{Subject: "alice"}, []string{"g-new", "g-never", "g-old"}},
		{"client", store.GrantFilter{ClientID: "client-1"}, []string{"g-new", "g-bob", "g-old"}},
		{"both", store.GrantFilter{Subject: "alice", ClientID: "client-2"}, []string{"g-never"}},
		{"none", store.GrantFilter{Subject: "carol"}, nil},
	} {
		got, err := d.Grants.List(ctx, tc.filter, Base)
		must(t, "list "+tc.name, err)
		var ids []string
		for _, g := range got {
			ids = append(ids, g.ID)
		}
		diff(t, "list "+tc.name+" (newest first, live only)", tc.want, ids)
		if tc.name == "both" && len(got) == 1 {
			diff(t, "listed grant", never, got[0])
		}
	}
}

func testGrantTimes(t *testing.T, d store.Durable) {
	ctx := t.Context()
	g := fixtureGrant("g1", "alice", "client-1", Base)
	g.AuthTime, g.CreatedAt, g.ExpiresAt = zoned(-time.Minute), zoned(0), zoned(time.Hour)
	must(t, "create", d.Grants.Create(ctx, g))
	got, err := d.Grants.Get(ctx, "g1", Base)
	must(t, "get", err)
	checkTime(t, "AuthTime", g.AuthTime, got.AuthTime)
	checkTime(t, "CreatedAt", g.CreatedAt, got.CreatedAt)
	checkTime(t, "ExpiresAt", g.ExpiresAt, got.ExpiresAt)
}

func testGrantLargeJSON(t *testing.T, d store.Durable) {
	ctx := t.Context()
	g := fixtureGrant("g1", "alice", "client-1", Base)
	g.ClaimsData = largeJSON()
	g.PresetUserInfoClaims = largeJSON()
	must(t, "create", d.Grants.Create(ctx, g))
	got, err := d.Grants.Get(ctx, "g1", Base)
	must(t, "get", err)
	diff(t, "grant with large claims", g, got)
}

// ---- refresh tokens ----

func testRefreshCreateGet(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	rt := fixtureRefresh("rt1", "g1")
	must(t, "create", d.RefreshTokens.Create(ctx, rt))
	got, err := d.RefreshTokens.Get(ctx, "rt1", Base)
	must(t, "get", err)
	diff(t, "refresh token", rt, got)
	wantErr(t, "duplicate create", d.RefreshTokens.Create(ctx, fixtureRefresh("rt1", "g1")), store.ErrExists)
	_, err = d.RefreshTokens.Get(ctx, "nope", Base)
	wantErr(t, "get unknown", err, store.ErrNotFound)
}

func testRefreshRequiresGrant(t *testing.T, d store.Durable) {
	ctx := t.Context()
	err := d.RefreshTokens.Create(ctx, fixtureRefresh("rt1", "no-such-grant"))
	wantErr(t, "create for an unknown grant", err, store.ErrNotFound)
	if _, err := d.RefreshTokens.Get(ctx, "rt1", Base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get after refused create: err = %v, want ErrNotFound", err)
	}
}

func testRefreshExpiry(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	rt := fixtureRefresh("rt1", "g1")
	rt.ExpiresAt = Base.Add(time.Hour)
	must(t, "create", d.RefreshTokens.Create(ctx, rt))
	never := fixtureRefresh("rt2", "g1")
	never.ExpiresAt = time.Time{}
	must(t, "create", d.RefreshTokens.Create(ctx, never))

	if _, err := d.RefreshTokens.Get(ctx, "rt1", Base.Add(time.Hour-time.Millisecond)); err != nil {
		t.Errorf("live token: %v", err)
	}
	_, err := d.RefreshTokens.Get(ctx, "rt1", Base.Add(time.Hour))
	wantErr(t, "token expired at now", err, store.ErrNotFound)
	if _, err := d.RefreshTokens.Get(ctx, "rt2", Base.Add(50*365*24*time.Hour)); err != nil {
		t.Errorf("non-expiring token: %v", err)
	}
}

func testRefreshTouch(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	must(t, "create", d.RefreshTokens.Create(ctx, fixtureRefresh("rt1", "g1")))
	must(t, "touch", d.RefreshTokens.Touch(ctx, "rt1", Base.Add(time.Minute)))
	got, err := d.RefreshTokens.Get(ctx, "rt1", Base.Add(time.Minute))
	must(t, "get", err)
	if !got.LastUsedAt.Equal(Base.Add(time.Minute)) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, Base.Add(time.Minute))
	}
	wantErr(t, "touch unknown", d.RefreshTokens.Touch(ctx, "nope", Base), store.ErrNotFound)
}

func testRefreshRotate(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	must(t, "create", d.RefreshTokens.Create(ctx, fixtureRefresh("rt1", "g1")))
	at := Base.Add(time.Minute)
	next := fixtureRefresh("rt2", "g1")
	next.CreatedAt = at
	_, err := d.RefreshTokens.Rotate(ctx, "rt1", at, next)
	must(t, "first rotate", err)

	old, err := d.RefreshTokens.Get(ctx, "rt1", at)
	must(t, "get rotated token", err)
	if !old.RotatedAt.Equal(at) {
		t.Errorf("RotatedAt = %v, want %v", old.RotatedAt, at)
	}
	got, err := d.RefreshTokens.Get(ctx, "rt2", at)
	must(t, "get successor", err)
	diff(t, "successor", next, got)

	// A replay returns the stored (rotated) token and stores nothing.
	replayed, err := d.RefreshTokens.Rotate(ctx, "rt1", at.Add(time.Minute), fixtureRefresh("rt3", "g1"))
	wantErr(t, "second rotate", err, store.ErrConsumed)
	if replayed == nil {
		t.Fatal("second rotate returned no token with ErrConsumed")
	}
	if replayed.ID != "rt1" || replayed.GrantID != "g1" || !replayed.RotatedAt.Equal(at) {
		t.Errorf("second rotate returned %+v, want the stored rt1 rotated at %v", replayed, at)
	}
	_, err = d.RefreshTokens.Get(ctx, "rt3", at)
	wantErr(t, "successor of a replay", err, store.ErrNotFound)
}

func testRefreshRotateNotFound(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	_, err := d.RefreshTokens.Rotate(ctx, "nope", Base, fixtureRefresh("rt2", "g1"))
	wantErr(t, "rotate unknown", err, store.ErrNotFound)

	rt := fixtureRefresh("rt1", "g1")
	rt.ExpiresAt = Base
	must(t, "create", d.RefreshTokens.Create(ctx, rt))
	_, err = d.RefreshTokens.Rotate(ctx, "rt1", Base, fixtureRefresh("rt3", "g1"))
	wantErr(t, "rotate expired", err, store.ErrNotFound)
	for _, id := range []string{"rt2", "rt3"} {
		_, err := d.RefreshTokens.Get(ctx, id, Base.Add(-time.Hour))
		wantErr(t, "successor "+id+" of a failed rotate", err, store.ErrNotFound)
	}
}

func testRefreshRotateConcurrent(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	must(t, "create", d.RefreshTokens.Create(ctx, fixtureRefresh("rt", "g1")))
	errs := concurrently(func(i int) error {
		_, err := d.RefreshTokens.Rotate(ctx, "rt", Base, fixtureRefresh(id("next", i), "g1"))
		return err
	})
	WantOneWinner(t, "rotate", errs)
	for i, err := range errs {
		_, getErr := d.RefreshTokens.Get(ctx, id("next", i), Base)
		if (err == nil) != (getErr == nil) {
			t.Errorf("goroutine %d: rotate err %v but successor get err %v", i, err, getErr)
		}
	}
}

// RotateChain stores grant grantID (without expiry, the default) with a
// non-expiring refresh token ChainToken(0) and rotates it n times, to
// ChainToken(n). Backends that can count their rows use it to check that a
// chain leaves exactly two tokens behind.
func RotateChain(t *testing.T, d store.Durable, grantID string, n int) {
	t.Helper()
	ctx := t.Context()
	g := fixtureGrant(grantID, "alice", "client-1", Base)
	g.ExpiresAt = time.Time{}
	must(t, "create grant", d.Grants.Create(ctx, g))
	first := fixtureRefresh(ChainToken(grantID, 0), grantID)
	first.ExpiresAt = time.Time{}
	must(t, "create", d.RefreshTokens.Create(ctx, first))
	for i := 1; i <= n; i++ {
		next := fixtureRefresh(ChainToken(grantID, i), grantID)
		next.ExpiresAt, next.CreatedAt = time.Time{}, Base.Add(time.Duration(i)*time.Second)
		_, err := d.RefreshTokens.Rotate(ctx, ChainToken(grantID, i-1), next.CreatedAt, next)
		must(t, fmt.Sprintf("rotation %d", i), err)
	}
}

// ChainToken is the ID of generation i of RotateChain's chain.
func ChainToken(grantID string, i int) string { return fmt.Sprintf("%s-chain-%03d", grantID, i) }

func testRefreshRotateKeepsOneGeneration(t *testing.T, d store.Durable) {
	ctx := t.Context()
	const chain = 100
	// A second live token of the grant (issued again within the reuse
	// grace) is not a generation of the chain and must stay; it exists
	// before the chain starts.
	RotateChain(t, d, "g1", 0)
	sibling := fixtureRefresh("sibling", "g1")
	sibling.ExpiresAt = time.Time{}
	must(t, "create sibling", d.RefreshTokens.Create(ctx, sibling))
	for i := 1; i <= chain; i++ {
		next := fixtureRefresh(ChainToken("g1", i), "g1")
		next.ExpiresAt, next.CreatedAt = time.Time{}, Base.Add(time.Duration(i)*time.Second)
		_, err := d.RefreshTokens.Rotate(ctx, ChainToken("g1", i-1), next.CreatedAt, next)
		must(t, fmt.Sprintf("rotation %d", i), err)
	}
	var kept []string
	for i := 0; i <= chain; i++ {
		if _, err := d.RefreshTokens.Get(ctx, ChainToken("g1", i), Base); err == nil {
			kept = append(kept, ChainToken("g1", i))
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get generation %d: %v", i, err)
		}
	}
	diff(t, "generations kept after the chain (the rotated predecessor and the live token)",
		[]string{ChainToken("g1", chain-1), ChainToken("g1", chain)}, kept)
	if _, err := d.RefreshTokens.Get(ctx, "sibling", Base); err != nil {
		t.Errorf("live sibling token: %v", err)
	}
	// The kept predecessor still reveals a replay.
	_, err := d.RefreshTokens.Rotate(ctx, ChainToken("g1", chain-1), Base.Add(time.Hour), fixtureRefresh("replay", "g1"))
	wantErr(t, "replay of the predecessor", err, store.ErrConsumed)
}

// testRefreshRotateRacesRevocation: a replayed rotated token revokes its
// grant (Grants.Delete) while the legitimate holder rotates the successor,
// on separate connections. The revocation must win every round: no error,
// and no token of the grant left, whichever starts first. PostgreSQL once
// deadlocked here about one round in ten and lost the revocation.
func testRefreshRotateRacesRevocation(t *testing.T, d store.Durable) {
	ctx := t.Context()
	const rounds = 200
	for i := range rounds {
		gid := id("g", i)
		old, cur, next := id("old", i), id("cur", i), id("next", i)
		mustGrant(t, d, gid)
		must(t, "create", d.RefreshTokens.Create(ctx, fixtureRefresh(old, gid)))
		_, err := d.RefreshTokens.Rotate(ctx, old, Base, fixtureRefresh(cur, gid))
		must(t, "first rotation", err)

		var rotErr, delErr error
		start := make(chan struct{})
		rotate := func() {
			<-start
			_, rotErr = d.RefreshTokens.Rotate(ctx, cur, Base.Add(time.Second), fixtureRefresh(next, gid))
		}
		revoke := func() {
			<-start
			delErr = d.Grants.Delete(ctx, gid)
		}
		var wg sync.WaitGroup
		if i%2 == 0 {
			wg.Go(rotate)
			wg.Go(revoke)
		} else {
			wg.Go(revoke)
			wg.Go(rotate)
		}
		close(start)
		wg.Wait()

		if delErr != nil {
			t.Fatalf("round %d: revocation failed: %v", i, delErr)
		}
		if rotErr != nil && !errors.Is(rotErr, store.ErrNotFound) {
			t.Fatalf("round %d: rotation racing a revocation: %v, want success or ErrNotFound", i, rotErr)
		}
		if _, err := d.Grants.Get(ctx, gid, Base); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("round %d: grant survived its revocation: %v", i, err)
		}
		for _, tok := range []string{old, cur, next} {
			if _, err := d.RefreshTokens.Get(ctx, tok, Base); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("round %d: token %s survived the revocation of its grant: %v", i, tok, err)
			}
		}
	}
}

func testRefreshTimes(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	rt := fixtureRefresh("rt1", "g1")
	rt.CreatedAt, rt.ExpiresAt, rt.LastUsedAt = zoned(0), zoned(time.Hour), zoned(time.Second)
	must(t, "create", d.RefreshTokens.Create(ctx, rt))
	got, err := d.RefreshTokens.Get(ctx, "rt1", Base)
	must(t, "get", err)
	checkTime(t, "CreatedAt", rt.CreatedAt, got.CreatedAt)
	checkTime(t, "ExpiresAt", rt.ExpiresAt, got.ExpiresAt)
	checkTime(t, "LastUsedAt", rt.LastUsedAt, got.LastUsedAt)
	if !got.RotatedAt.IsZero() {
		t.Errorf("zero RotatedAt came back as %v", got.RotatedAt)
	}
	must(t, "touch", d.RefreshTokens.Touch(ctx, "rt1", zoned(time.Minute)))
	_, err = d.RefreshTokens.Rotate(ctx, "rt1", zoned(2*time.Minute), fixtureRefresh("rt2", "g1"))
	must(t, "rotate", err)
	got, err = d.RefreshTokens.Get(ctx, "rt1", Base)
	must(t, "get", err)
	checkTime(t, "LastUsedAt after Touch", zoned(time.Minute), got.LastUsedAt)
	checkTime(t, "RotatedAt", zoned(2*time.Minute), got.RotatedAt)
}

// ---- access tokens ----

func testAccessCreateGetDelete(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	at := fixtureAccess("at1", "g1")
	must(t, "create", d.AccessTokens.Create(ctx, at))
	got, err := d.AccessTokens.Get(ctx, "at1", Base)
	must(t, "get", err)
	diff(t, "access token", at, got)
	wantErr(t, "duplicate", d.AccessTokens.Create(ctx, fixtureAccess("at1", "g1")), store.ErrExists)
	must(t, "delete", d.AccessTokens.Delete(ctx, "at1"))
	_, err = d.AccessTokens.Get(ctx, "at1", Base)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", d.AccessTokens.Delete(ctx, "at1"), store.ErrNotFound)
	if _, err := d.Grants.Get(ctx, "g1", Base); err != nil {
		t.Errorf("grant after deleting its access token: %v", err)
	}
}

func testAccessRequiresGrant(t *testing.T, d store.Durable) {
	ctx := t.Context()
	err := d.AccessTokens.Create(ctx, fixtureAccess("at1", "no-such-grant"))
	wantErr(t, "create for an unknown grant", err, store.ErrNotFound)
	_, err = d.AccessTokens.Get(ctx, "at1", Base)
	wantErr(t, "get after refused create", err, store.ErrNotFound)
}

func testAccessExpiry(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	at := fixtureAccess("at1", "g1")
	must(t, "create", d.AccessTokens.Create(ctx, at))
	if _, err := d.AccessTokens.Get(ctx, "at1", at.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Errorf("live token: %v", err)
	}
	_, err := d.AccessTokens.Get(ctx, "at1", at.ExpiresAt)
	wantErr(t, "token expired at now", err, store.ErrNotFound)
}

func testAccessTimes(t *testing.T, d store.Durable) {
	ctx := t.Context()
	mustGrant(t, d, "g1")
	at := fixtureAccess("at1", "g1")
	at.CreatedAt, at.ExpiresAt = zoned(0), zoned(time.Hour)
	must(t, "create", d.AccessTokens.Create(ctx, at))
	got, err := d.AccessTokens.Get(ctx, "at1", Base)
	must(t, "get", err)
	checkTime(t, "CreatedAt", at.CreatedAt, got.CreatedAt)
	checkTime(t, "ExpiresAt", at.ExpiresAt, got.ExpiresAt)
}

// ---- long-lived authorisations ----

func testAuthorizationPut(t *testing.T, d store.Durable) {
	ctx := t.Context()
	a := fixtureAuthorization("alice", "client-1")
	must(t, "put", d.Authorizations.Put(ctx, a))
	got, err := d.Authorizations.Get(ctx, "alice", "client-1")
	must(t, "get", err)
	diff(t, "authorization", a, got)

	b := fixtureAuthorization("alice", "client-1")
	b.Scope = []string{"openid"}
	b.Claims = nil
	b.UpdatedAt = Base.Add(time.Hour)
	must(t, "put replacement", d.Authorizations.Put(ctx, b))
	got, err = d.Authorizations.Get(ctx, "alice", "client-1")
	must(t, "get", err)
	diff(t, "replaced authorization", b, got)

	for _, key := range [][2]string{{"bob", "client-1"}, {"alice", "client-2"}} {
		_, err := d.Authorizations.Get(ctx, key[0], key[1])
		wantErr(t, "get "+key[0]+"/"+key[1], err, store.ErrNotFound)
	}
}

func testAuthorizationDelete(t *testing.T, d store.Durable) {
	ctx := t.Context()
	must(t, "put", d.Authorizations.Put(ctx, fixtureAuthorization("alice", "client-1")))
	must(t, "put", d.Authorizations.Put(ctx, fixtureAuthorization("alice", "client-2")))
	must(t, "delete", d.Authorizations.Delete(ctx, "alice", "client-1"))
	_, err := d.Authorizations.Get(ctx, "alice", "client-1")
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", d.Authorizations.Delete(ctx, "alice", "client-1"), store.ErrNotFound)
	if _, err := d.Authorizations.Get(ctx, "alice", "client-2"); err != nil {
		t.Errorf("other authorization: %v", err)
	}
}

func testAuthorizationList(t *testing.T, d store.Durable) {
	ctx := t.Context()
	for _, k := range [][2]string{{"alice", "client-1"}, {"alice", "client-2"}, {"bob", "client-1"}, {"carol", "client-3"}} {
		must(t, "put", d.Authorizations.Put(ctx, fixtureAuthorization(k[0], k[1])))
	}
	for _, tc := range []struct {
		subject, clientID string
		want              []string
	}{
		{"alice", "", []string{"alice/client-1", "alice/client-2"}},
		{"", "client-1", []string{"alice/client-1", "bob/client-1"}},
		{"bob", "client-1", []string{"bob/client-1"}},
		{"bob", "client-2", nil},
		{"dave", "", nil},
	} {
		got, err := d.Authorizations.List(ctx, tc.subject, tc.clientID)
		must(t, "list", err)
		var keys []string
		for _, a := range got {
			keys = append(keys, a.Subject+"/"+a.ClientID)
		}
		slices.Sort(keys)
		diff(t, "list "+tc.subject+"/"+tc.clientID, tc.want, keys)
	}
	got, err := d.Authorizations.List(ctx, "carol", "")
	must(t, "list", err)
	if len(got) == 1 {
		diff(t, "listed authorization", fixtureAuthorization("carol", "client-3"), got[0])
	}
}

func testAuthorizationLarge(t *testing.T, d store.Durable) {
	ctx := t.Context()
	a := fixtureAuthorization("alice", "client-1")
	a.PresetIDTokenClaims = largeJSON()
	a.CreatedAt, a.UpdatedAt = zoned(0), zoned(time.Minute)
	must(t, "put", d.Authorizations.Put(ctx, a))
	got, err := d.Authorizations.Get(ctx, "alice", "client-1")
	must(t, "get", err)
	diff(t, "preset claims", a.PresetIDTokenClaims, got.PresetIDTokenClaims)
	checkTime(t, "CreatedAt", a.CreatedAt, got.CreatedAt)
	checkTime(t, "UpdatedAt", a.UpdatedAt, got.UpdatedAt)
}

func testAuthorizationDistinct(t *testing.T, d store.Durable) {
	ctx := t.Context()
	for _, k := range [][2]string{{"alice", "client-1"}, {"alice", "client-2"}, {"bob", "client-1"}, {"carol", "client-3"}} {
		must(t, "put", d.Authorizations.Put(ctx, fixtureAuthorization(k[0], k[1])))
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, []string{"alice", "bob", "carol"}},
		{"", 2, []string{"alice", "bob"}},
		{"bob", 2, []string{"carol"}},
		{"carol", 2, nil},
		{"alicf", 1, []string{"bob"}},
	} {
		got, err := d.Authorizations.Subjects(ctx, tc.after, tc.limit)
		must(t, "subjects", err)
		diff(t, fmt.Sprintf("subjects after %q limit %d", tc.after, tc.limit), tc.want, got)
	}
	for _, tc := range []struct {
		after string
		limit int
		want  []string
	}{
		{"", 10, []string{"client-1", "client-2", "client-3"}},
		{"", 1, []string{"client-1"}},
		{"client-1", 1, []string{"client-2"}},
		{"client-3", 5, nil},
	} {
		got, err := d.Authorizations.Clients(ctx, tc.after, tc.limit)
		must(t, "clients", err)
		diff(t, fmt.Sprintf("clients after %q limit %d", tc.after, tc.limit), tc.want, got)
	}
	// A subject whose last authorisation goes is no longer listed.
	must(t, "delete", d.Authorizations.Delete(ctx, "carol", "client-3"))
	got, err := d.Authorizations.Subjects(ctx, "", 10)
	must(t, "subjects", err)
	diff(t, "subjects after delete", []string{"alice", "bob"}, got)
	got, err = d.Authorizations.Clients(ctx, "", 10)
	must(t, "clients", err)
	diff(t, "clients after delete", []string{"client-1", "client-2"}, got)
}

// testAuthorizationDistinctMany pages through many subjects and clients, a
// few at a time while the grid of authorisations is dense, and requires
// every value exactly once.
func testAuthorizationDistinctMany(t *testing.T, d store.Durable) {
	ctx := t.Context()
	const subjects, clients = 37, 11
	for i := range subjects {
		for j := range clients {
			if (i+j)%3 == 0 || j == i%clients {
				must(t, "put", d.Authorizations.Put(ctx, fixtureAuthorization(id("sub", i), id("cl", j))))
			}
		}
	}
	for _, tc := range []struct {
		what string
		page func(ctx context.Context, after string, limit int) ([]string, error)
		want int
	}{
		{"subjects", d.Authorizations.Subjects, subjects},
		{"clients", d.Authorizations.Clients, clients},
	} {
		seen := map[string]int{}
		after, pages := "", 0
		for {
			got, err := tc.page(ctx, after, 4)
			must(t, tc.what, err)
			if len(got) > 4 {
				t.Fatalf("%s: page of %d, limit 4", tc.what, len(got))
			}
			if len(got) == 0 {
				break
			}
			for i, v := range got {
				seen[v]++
				if i > 0 && got[i-1] >= v {
					t.Errorf("%s: page not ascending: %q then %q", tc.what, got[i-1], v)
				}
			}
			after = got[len(got)-1]
			if pages++; pages > tc.want {
				t.Fatalf("%s: paging does not end", tc.what)
			}
		}
		if len(seen) != tc.want {
			t.Errorf("%s: %d distinct values, want %d", tc.what, len(seen), tc.want)
		}
		for v, n := range seen {
			if n != 1 {
				t.Errorf("%s: %q listed %d times", tc.what, v, n)
			}
		}
	}
}

// ---- signing keys ----

func keyIDs(keys []*store.SigningKey) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

func testKeysAddIfEmpty(t *testing.T, d store.Durable) {
	ctx := t.Context()
	got, err := d.Keys.List(ctx)
	must(t, "list empty", err)
	diff(t, "empty key list", []string(nil), keyIDs(got))

	first := []*store.SigningKey{
		fixtureKey("k-es", "ES256", Base.Add(time.Second)),
		fixtureKey("k-rs", "RS256", Base),
	}
	added, err := d.Keys.AddIfEmpty(ctx, first)
	must(t, "first AddIfEmpty", err)
	if !added {
		t.Fatal("first AddIfEmpty on an empty store reported false")
	}
	added, err = d.Keys.AddIfEmpty(ctx, []*store.SigningKey{fixtureKey("k-other", "RS256", Base)})
	must(t, "second AddIfEmpty", err)
	if added {
		t.Error("second AddIfEmpty reported true")
	}
	got, err = d.Keys.List(ctx)
	must(t, "list", err)
	diff(t, "keys (oldest first)", []*store.SigningKey{first[1], first[0]}, got)
}

func testKeysAddIfEmptyConcurrent(t *testing.T, d store.Durable) {
	ctx := t.Context()
	sets := make([][]*store.SigningKey, Goroutines)
	for i := range sets {
		sets[i] = []*store.SigningKey{
			fixtureKey(id("rs", i), "RS256", Base),
			fixtureKey(id("es", i), "ES256", Base.Add(time.Second)),
		}
	}
	added := make([]bool, Goroutines)
	errs := concurrently(func(i int) error {
		var err error
		added[i], err = d.Keys.AddIfEmpty(ctx, sets[i])
		return err
	})
	winner := -1
	for i, err := range errs {
		must(t, "AddIfEmpty", err)
		if added[i] {
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both added keys", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine added keys")
	}
	got, err := d.Keys.List(ctx)
	must(t, "list", err)
	diff(t, "stored key set", keyIDs(sets[winner]), keyIDs(got))
}

func testKeysRotate(t *testing.T, d store.Durable) {
	ctx := t.Context()
	oldRetired := fixtureKey("rs-0", "RS256", Base.Add(-48*time.Hour))
	oldRetired.RetiredAt = Base.Add(-24 * time.Hour)
	oldRetired.DeleteAfter = Base.Add(time.Hour)
	rs1 := fixtureKey("rs-1", "RS256", Base.Add(-24*time.Hour))
	es1 := fixtureKey("es-1", "ES256", Base.Add(-23*time.Hour))
	_, err := d.Keys.AddIfEmpty(ctx, []*store.SigningKey{oldRetired, rs1, es1})
	must(t, "seed", err)

	now, deleteAfter := Base, Base.Add(7*24*time.Hour)
	rs2 := fixtureKey("rs-2", "RS256", now)
	must(t, "rotate", d.Keys.Rotate(ctx, []*store.SigningKey{rs2}, now, deleteAfter))

	wantRS1 := *rs1
	wantRS1.RetiredAt, wantRS1.DeleteAfter = now, deleteAfter
	got, err := d.Keys.List(ctx)
	must(t, "list", err)
	// The already-retired key keeps its dates; the ES256 key stays active.
	diff(t, "keys after rotate", []*store.SigningKey{oldRetired, &wantRS1, es1, rs2}, got)
}

func testKeysRotateAtomic(t *testing.T, d store.Durable) {
	ctx := t.Context()
	rs1 := fixtureKey("rs-1", "RS256", Base.Add(-time.Hour))
	_, err := d.Keys.AddIfEmpty(ctx, []*store.SigningKey{rs1})
	must(t, "seed", err)
	// The second new key reuses an existing ID, so the whole rotation fails.
	err = d.Keys.Rotate(ctx, []*store.SigningKey{fixtureKey("rs-2", "RS256", Base), fixtureKey("rs-1", "RS256", Base)}, Base, Base.Add(time.Hour))
	if err == nil {
		t.Fatal("rotate with a duplicate key ID succeeded")
	}
	got, err := d.Keys.List(ctx)
	must(t, "list", err)
	diff(t, "keys after failed rotate", []*store.SigningKey{rs1}, got)
}

func testKeysDeleteRetired(t *testing.T, d store.Durable) {
	ctx := t.Context()
	gone := fixtureKey("gone", "RS256", Base.Add(-3*time.Hour))
	gone.RetiredAt, gone.DeleteAfter = Base.Add(-2*time.Hour), Base.Add(-time.Millisecond)
	kept := fixtureKey("kept", "RS256", Base.Add(-2*time.Hour))
	kept.RetiredAt, kept.DeleteAfter = Base.Add(-time.Hour), Base.Add(time.Millisecond)
	active := fixtureKey("active", "RS256", Base.Add(-time.Hour))
	_, err := d.Keys.AddIfEmpty(ctx, []*store.SigningKey{gone, kept, active})
	must(t, "seed", err)
	n, err := d.Keys.DeleteRetired(ctx, Base)
	must(t, "delete retired", err)
	if n != 1 {
		t.Errorf("DeleteRetired removed %d keys, want 1", n)
	}
	got, err := d.Keys.List(ctx)
	must(t, "list", err)
	diff(t, "keys after DeleteRetired", []string{"kept", "active"}, keyIDs(got))
	n, err = d.Keys.DeleteRetired(ctx, Base)
	must(t, "delete retired again", err)
	if n != 0 {
		t.Errorf("second DeleteRetired removed %d keys, want 0", n)
	}
}

func testKeysRoundTrip(t *testing.T, d store.Durable) {
	ctx := t.Context()
	k := fixtureKey("k1", "EdDSA", zoned(0))
	k.PrivateSealed = slices.Concat(allBytes(), []byte{0, 0})
	k.RetiredAt, k.DeleteAfter = zoned(time.Hour), zoned(2*time.Hour)
	_, err := d.Keys.AddIfEmpty(ctx, []*store.SigningKey{k})
	must(t, "add", err)
	got, err := d.Keys.List(ctx)
	must(t, "list", err)
	if len(got) != 1 {
		t.Fatalf("listed %d keys, want 1", len(got))
	}
	diff(t, "PrivateSealed", k.PrivateSealed, got[0].PrivateSealed)
	diff(t, "Public", k.Public, got[0].Public)
	checkTime(t, "CreatedAt", k.CreatedAt, got[0].CreatedAt)
	checkTime(t, "RetiredAt", k.RetiredAt, got[0].RetiredAt)
	checkTime(t, "DeleteAfter", k.DeleteAfter, got[0].DeleteAfter)
}

// ---- purge ----

func testDurablePurge(t *testing.T, d store.Durable) {
	ctx := t.Context()
	const perKind, limit = 5, 3
	// Live grants hold the tokens, so purging a grant never cascades into
	// the token counts.
	live := fixtureGrant("g-live", "alice", "client-1", Base)
	live.ExpiresAt = time.Time{}
	must(t, "create", d.Grants.Create(ctx, live))
	for i := range perKind {
		g := fixtureGrant(id("g-exp", i), "alice", "client-1", Base.Add(-time.Hour))
		g.ExpiresAt = Base.Add(-time.Duration(i) * time.Minute) // the first expires exactly at now
		must(t, "create", d.Grants.Create(ctx, g))
		rt := fixtureRefresh(id("rt-exp", i), "g-live")
		rt.ExpiresAt = Base.Add(-time.Duration(i) * time.Minute)
		must(t, "create", d.RefreshTokens.Create(ctx, rt))
		at := fixtureAccess(id("at-exp", i), "g-live")
		at.ExpiresAt = Base.Add(-time.Duration(i) * time.Minute)
		must(t, "create", d.AccessTokens.Create(ctx, at))
	}
	liveGrant := fixtureGrant("g-live2", "bob", "client-1", Base)
	liveGrant.ExpiresAt = Base.Add(time.Millisecond)
	must(t, "create", d.Grants.Create(ctx, liveGrant))
	liveRT := fixtureRefresh("rt-live", "g-live")
	liveRT.ExpiresAt = time.Time{}
	must(t, "create", d.RefreshTokens.Create(ctx, liveRT))
	must(t, "create", d.RefreshTokens.Create(ctx, fixtureRefresh("rt-live2", "g-live")))
	must(t, "create", d.AccessTokens.Create(ctx, fixtureAccess("at-live", "g-live")))

	n1, err := d.Purger.Purge(ctx, Base, limit)
	must(t, "first purge", err)
	n2, err := d.Purger.Purge(ctx, Base, limit)
	must(t, "second purge", err)
	n3, err := d.Purger.Purge(ctx, Base, limit)
	must(t, "third purge", err)
	const kinds = 3
	if n1 > kinds*limit || n2 > kinds*limit {
		t.Errorf("purges removed %d and %d records, more than %d per kind", n1, n2, limit)
	}
	if n1+n2 != kinds*perKind || n3 != 0 {
		t.Errorf("purges removed %d, %d, %d records; want %d in the first two and 0 in the third", n1, n2, n3, kinds*perKind)
	}

	// Everything live survives, even when read back at an earlier time.
	if _, err := d.Grants.Get(ctx, "g-live", Base); err != nil {
		t.Errorf("live grant: %v", err)
	}
	if _, err := d.Grants.Get(ctx, "g-live2", Base); err != nil {
		t.Errorf("grant expiring after now: %v", err)
	}
	for _, id := range []string{"rt-live", "rt-live2"} {
		if _, err := d.RefreshTokens.Get(ctx, id, Base); err != nil {
			t.Errorf("live refresh token %s: %v", id, err)
		}
	}
	if _, err := d.AccessTokens.Get(ctx, "at-live", Base); err != nil {
		t.Errorf("live access token: %v", err)
	}
	// Purged records are gone even for a caller asking about an earlier time.
	earlier := Base.Add(-24 * time.Hour)
	for i := range perKind {
		if _, err := d.Grants.Get(ctx, id("g-exp", i), earlier); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("purged grant %d: err = %v", i, err)
		}
		if _, err := d.RefreshTokens.Get(ctx, id("rt-exp", i), earlier); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("purged refresh token %d: err = %v", i, err)
		}
		if _, err := d.AccessTokens.Get(ctx, id("at-exp", i), earlier); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("purged access token %d: err = %v", i, err)
		}
	}
}

// ---- notifier ----

func testNotifier(t *testing.T, d store.Durable) {
	if d.Notifier == nil {
		t.Skip("backend has no notifier (single node)")
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := d.Notifier.Subscribe(ctx, "keys")
	must(t, "subscribe", err)
	other, err := d.Notifier.Subscribe(ctx, "clients")
	must(t, "subscribe", err)
	must(t, "publish", d.Notifier.Publish(t.Context(), "keys", "rotated"))
	select {
	case got := <-ch:
		if got != "rotated" {
			t.Errorf("payload = %q, want %q", got, "rotated")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notice delivered")
	}
	select {
	case got := <-other:
		t.Errorf("subscriber of another topic received %q", got)
	default:
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, open := <-ch:
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed after the subscription context ended")
		}
	}
}

// testConfirmation: the key a grant's refresh tokens and an identifier
// access token are bound to (DPoP jkt, mTLS x5t#S256) survives the store,
// and its absence stays absent.
func testConfirmation(t *testing.T, d store.Durable) {
	ctx := t.Context()
	g := fixtureGrant("g1", "alice", "client-1", Base)
	g.Confirmation = store.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
	must(t, "create grant", d.Grants.Create(ctx, g))
	got, err := d.Grants.Get(ctx, "g1", Base)
	must(t, "get grant", err)
	if got.Confirmation != g.Confirmation {
		t.Errorf("grant confirmation = %+v, want %+v", got.Confirmation, g.Confirmation)
	}
	at := fixtureAccess("at1", "g1")
	at.Confirmation = store.Confirmation{X5TS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}
	must(t, "create access token", d.AccessTokens.Create(ctx, at))
	gotAT, err := d.AccessTokens.Get(ctx, "at1", Base)
	must(t, "get access token", err)
	if gotAT.Confirmation != at.Confirmation {
		t.Errorf("access token confirmation = %+v, want %+v", gotAT.Confirmation, at.Confirmation)
	}
	must(t, "create unbound", d.AccessTokens.Create(ctx, fixtureAccess("at2", "g1")))
	gotAT, err = d.AccessTokens.Get(ctx, "at2", Base)
	must(t, "get unbound", err)
	if !gotAT.Confirmation.IsZero() {
		t.Errorf("unbound access token confirmation = %+v", gotAT.Confirmation)
	}
}
