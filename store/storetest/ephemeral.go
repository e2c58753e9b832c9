package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func ephemeralTests() []test[store.Ephemeral] {
	return []test[store.Ephemeral]{
		{"authz_sessions/create_get", testAuthzCreateGet},
		{"authz_sessions/expiry", testAuthzExpiry},
		{"authz_sessions/update", testAuthzUpdate},
		{"authz_sessions/update_fn_error", testAuthzUpdateFnError},
		{"authz_sessions/update_not_found", testAuthzUpdateNotFound},
		{"authz_sessions/update_concurrent", testAuthzUpdateConcurrent},
		{"authz_sessions/delete", testAuthzDelete},
		{"authz_sessions/no_aliasing", testAuthzNoAliasing},
		{"authz_sessions/time_round_trip", testAuthzTimes},
		{"authz_sessions/large_json_and_bytes", testAuthzLarge},
		{"subject_sessions/create_get", testSubjectCreateGet},
		{"subject_sessions/expiry", testSubjectExpiry},
		{"subject_sessions/update", testSubjectUpdate},
		{"subject_sessions/update_concurrent", testSubjectUpdateConcurrent},
		{"subject_sessions/delete", testSubjectDelete},
		{"subject_sessions/delete_concurrent", testSubjectDeleteConcurrent},
		{"subject_sessions/take_expired", testSubjectTakeExpired},
		{"subject_sessions/take_expired_concurrent", testSubjectTakeExpiredConcurrent},
		{"subject_sessions/list_by_subject", testSubjectList},
		{"subject_sessions/time_round_trip", testSubjectTimes},
		{"subject_sessions/large_json", testSubjectLarge},
		{"codes/create_consume", testCodeConsume},
		{"codes/consume_not_found_and_expired", testCodeExpiry},
		{"codes/consume_concurrent", testCodeConsumeConcurrent},
		{"codes/time_round_trip", testCodeTimes},
		{"par/create_consume", testPARConsume},
		{"par/consume_not_found_and_expired", testPARExpiry},
		{"par/consume_concurrent", testPARConsumeConcurrent},
		{"par/delete_by_client", testPARDeleteByClient},
		{"replay/mark_used", testReplay},
		{"replay/mark_used_concurrent", testReplayConcurrent},
		{"purge", testEphemeralPurge},
	}
}

// ---- fixtures ----

func fixtureAuthzSession(id string) *store.AuthzSession {
	maxAge := int64(600)
	return &store.AuthzSession{
		ID:    id,
		State: store.AuthzStateAuthPending,
		Request: store.AuthzRequest{
			ResponseType:        []string{"code"},
			ClientID:            "client-1",
			RedirectURI:         "https://rp.example/cb",
			Scope:               []string{"openid", "email"},
			State:               "xyz",
			Nonce:               "n-0S6",
			CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256",
			Prompt:              []string{"login", "consent"},
			MaxAge:              &maxAge,
			ACRValues:           []string{"urn:acr:mfa"},
			Claims: &oauth.ClaimsRequest{
				UserInfo: map[string]*oauth.ClaimRequest{"email": {Essential: true}, "name": nil},
				IDToken:  map[string]*oauth.ClaimRequest{"acr": {Values: []any{"a", "b"}}},
			},
			UILocales: []string{"de"},
			Params:    map[string][]string{"client_id": {"client-1"}, "x": {"1", "2"}},
		},
		Data:      map[string]any{"step": "login"},
		CreatedAt: Base,
		ExpiresAt: Base.Add(10 * time.Minute),
	}
}

func fixtureSubjectSession(id, subject string, created time.Time) *store.SubjectSession {
	return &store.SubjectSession{
		ID:         id,
		Subject:    subject,
		AuthTime:   created,
		ACR:        "urn:acr:pwd",
		AMR:        []string{"pwd"},
		MaxLife:    -1,
		AuthLife:   12 * time.Hour,
		MaxIdle:    30 * time.Minute,
		RPs:        []string{"client-1"},
		Claims:     map[string]any{"email": "a@example.com"},
		Data:       map[string]any{"device": "laptop"},
		Ctx:        "ctx-1",
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(time.Hour),
	}
}

func fixtureCode(id string) *store.Code {
	g := fixtureGrant("g-"+id, "alice", "client-1", Base)
	return &store.Code{
		ID:                  id,
		GrantID:             g.ID,
		ClientID:            "client-1",
		RedirectURI:         "https://rp.example/cb",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6",
		Grant:               *g,
		CreatedAt:           Base,
		ExpiresAt:           Base.Add(time.Minute),
	}
}

func fixturePAR(id string) *store.PushedRequest {
	return &store.PushedRequest{
		ID:        id,
		ClientID:  "client-1",
		Params:    map[string][]string{"response_type": {"code"}, "scope": {"openid email"}},
		CreatedAt: Base,
		ExpiresAt: Base.Add(time.Minute),
	}
}

// ---- authorisation sessions ----

func testAuthzCreateGet(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "authz session", s, got)
	dup := fixtureAuthzSession("as1")
	dup.State = store.AuthzStateDone
	wantErr(t, "duplicate", e.AuthzSessions.Create(ctx, dup), store.ErrExists)
	got, err = e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "authz session after refused create", s, got)
	_, err = e.AuthzSessions.Get(ctx, "nope", Base)
	wantErr(t, "get unknown", err, store.ErrNotFound)
}

func testAuthzExpiry(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	if _, err := e.AuthzSessions.Get(ctx, "as1", s.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Errorf("live session: %v", err)
	}
	_, err := e.AuthzSessions.Get(ctx, "as1", s.ExpiresAt)
	wantErr(t, "session expired at now", err, store.ErrNotFound)
	_, err = e.AuthzSessions.Update(ctx, "as1", s.ExpiresAt, func(*store.AuthzSession) error { return nil })
	wantErr(t, "update expired session", err, store.ErrNotFound)
}

func testAuthzUpdate(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.AuthzSessions.Create(ctx, fixtureAuthzSession("as1")))
	want := fixtureAuthzSession("as1")
	want.State = store.AuthzStateConsentPending
	want.Subject = "alice"
	want.AuthTime = Base.Add(time.Second)
	want.AMR = []string{"pwd"}
	want.Final = []byte(`{"type":"response"}`)
	got, err := e.AuthzSessions.Update(ctx, "as1", Base, func(s *store.AuthzSession) error {
		s.State = store.AuthzStateConsentPending
		s.Subject = "alice"
		s.AuthTime = Base.Add(time.Second)
		s.AMR = []string{"pwd"}
		s.Final = []byte(`{"type":"response"}`)
		return nil
	})
	must(t, "update", err)
	diff(t, "update result", want, got)
	got, err = e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "stored session", want, got)
}

func testAuthzUpdateFnError(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	_, err := e.AuthzSessions.Update(ctx, "as1", Base, func(s *store.AuthzSession) error {
		s.State = store.AuthzStateFailed
		return errBoom
	})
	wantErr(t, "update", err, errBoom)
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "session after aborted update", s, got)
}

func testAuthzUpdateNotFound(t *testing.T, e store.Ephemeral) {
	called := false
	_, err := e.AuthzSessions.Update(t.Context(), "nope", Base, func(*store.AuthzSession) error { called = true; return nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
	if called {
		t.Error("update fn called for an unknown session")
	}
}

func testAuthzUpdateConcurrent(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.AuthzSessions.Create(ctx, fixtureAuthzSession("as1")))
	errs := concurrently(func(int) error {
		return retryConflict(func() error {
			_, err := e.AuthzSessions.Update(ctx, "as1", Base, func(s *store.AuthzSession) error {
				increment(&s.Data)
				return nil
			})
			return err
		})
	})
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	wantNoLostUpdates(t, errs, got.Data)
}

func testAuthzDelete(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.AuthzSessions.Create(ctx, fixtureAuthzSession("as1")))
	must(t, "create", e.AuthzSessions.Create(ctx, fixtureAuthzSession("as2")))
	must(t, "delete", e.AuthzSessions.Delete(ctx, "as1"))
	_, err := e.AuthzSessions.Get(ctx, "as1", Base)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	wantErr(t, "delete again", e.AuthzSessions.Delete(ctx, "as1"), store.ErrNotFound)
	if _, err := e.AuthzSessions.Get(ctx, "as2", Base); err != nil {
		t.Errorf("other session: %v", err)
	}
}

func testAuthzNoAliasing(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	s.Request.Scope[0] = "admin"
	s.Request.Params["x"][0] = "changed"
	s.Request.Claims.UserInfo["email"].Essential = false
	s.Data["step"] = "changed"
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "session after caller mutated input", fixtureAuthzSession("as1"), got)
	got.Request.Scope[0] = "admin"
	got.Data["step"] = "changed"
	*got.Request.MaxAge = 1
	again, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "session after caller mutated output", fixtureAuthzSession("as1"), again)
}

func testAuthzTimes(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	s.AuthTime, s.CreatedAt, s.ExpiresAt = zoned(-time.Second), zoned(0), zoned(10*time.Minute)
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	checkTime(t, "AuthTime", s.AuthTime, got.AuthTime)
	checkTime(t, "CreatedAt", s.CreatedAt, got.CreatedAt)
	checkTime(t, "ExpiresAt", s.ExpiresAt, got.ExpiresAt)
}

func testAuthzLarge(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureAuthzSession("as1")
	s.Data = largeJSON()
	s.Final = allBytes()
	must(t, "create", e.AuthzSessions.Create(ctx, s))
	got, err := e.AuthzSessions.Get(ctx, "as1", Base)
	must(t, "get", err)
	diff(t, "session with large data", s, got)
}

// ---- subject sessions ----

func testSubjectCreateGet(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureSubjectSession("ss1", "alice", Base)
	must(t, "create", e.SubjectSessions.Create(ctx, s))
	got, err := e.SubjectSessions.Get(ctx, "ss1", Base)
	must(t, "get", err)
	diff(t, "subject session", s, got)
	wantErr(t, "duplicate", e.SubjectSessions.Create(ctx, fixtureSubjectSession("ss1", "bob", Base)), store.ErrExists)
	_, err = e.SubjectSessions.Get(ctx, "nope", Base)
	wantErr(t, "get unknown", err, store.ErrNotFound)
}

func testSubjectExpiry(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureSubjectSession("ss1", "alice", Base)
	must(t, "create", e.SubjectSessions.Create(ctx, s))
	if _, err := e.SubjectSessions.Get(ctx, "ss1", s.ExpiresAt.Add(-time.Millisecond)); err != nil {
		t.Errorf("live session: %v", err)
	}
	_, err := e.SubjectSessions.Get(ctx, "ss1", s.ExpiresAt)
	wantErr(t, "session expired at now", err, store.ErrNotFound)
	_, err = e.SubjectSessions.Update(ctx, "ss1", s.ExpiresAt, func(*store.SubjectSession) error { return nil })
	wantErr(t, "update expired session", err, store.ErrNotFound)
}

func testSubjectUpdate(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.SubjectSessions.Create(ctx, fixtureSubjectSession("ss1", "alice", Base)))
	later := Base.Add(5 * time.Minute)
	want := fixtureSubjectSession("ss1", "alice", Base)
	want.RPs = append(want.RPs, "client-2")
	want.LastUsedAt, want.ExpiresAt = later, later.Add(2*time.Hour)
	got, err := e.SubjectSessions.Update(ctx, "ss1", later, func(s *store.SubjectSession) error {
		s.RPs = append(s.RPs, "client-2")
		s.LastUsedAt, s.ExpiresAt = later, later.Add(2*time.Hour)
		return nil
	})
	must(t, "update", err)
	diff(t, "update result", want, got)
	// The new expiry counts: the session outlives its original deadline.
	got, err = e.SubjectSessions.Get(ctx, "ss1", Base.Add(time.Hour))
	must(t, "get after the original expiry", err)
	diff(t, "stored session", want, got)

	_, err = e.SubjectSessions.Update(ctx, "ss1", later, func(s *store.SubjectSession) error {
		s.Ctx = "changed"
		return errBoom
	})
	wantErr(t, "aborted update", err, errBoom)
	got, err = e.SubjectSessions.Get(ctx, "ss1", later)
	must(t, "get", err)
	diff(t, "session after aborted update", want, got)
	_, err = e.SubjectSessions.Update(ctx, "nope", later, func(*store.SubjectSession) error { return nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
}

func testSubjectUpdateConcurrent(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.SubjectSessions.Create(ctx, fixtureSubjectSession("ss1", "alice", Base)))
	errs := concurrently(func(int) error {
		return retryConflict(func() error {
			_, err := e.SubjectSessions.Update(ctx, "ss1", Base, func(s *store.SubjectSession) error {
				increment(&s.Data)
				return nil
			})
			return err
		})
	})
	got, err := e.SubjectSessions.Get(ctx, "ss1", Base)
	must(t, "get", err)
	wantNoLostUpdates(t, errs, got.Data)
}

func testSubjectDelete(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	want := fixtureSubjectSession("ss1", "alice", Base)
	must(t, "create", e.SubjectSessions.Create(ctx, want))
	got, err := e.SubjectSessions.Delete(ctx, "ss1")
	must(t, "delete", err)
	diff(t, "deleted session", want, got)
	_, err = e.SubjectSessions.Get(ctx, "ss1", Base)
	wantErr(t, "get deleted", err, store.ErrNotFound)
	_, err = e.SubjectSessions.Delete(ctx, "ss1")
	wantErr(t, "delete again", err, store.ErrNotFound)
	_, err = e.SubjectSessions.Delete(ctx, "never-created")
	wantErr(t, "delete unknown", err, store.ErrNotFound)
	list, err := e.SubjectSessions.ListBySubject(ctx, "alice", Base)
	must(t, "list", err)
	if len(list) != 0 {
		t.Errorf("deleted session still listed: %d sessions", len(list))
	}
	taken, err := e.SubjectSessions.TakeExpired(ctx, Base.Add(48*time.Hour), 10)
	must(t, "take expired", err)
	if len(taken) != 0 {
		t.Errorf("a deleted session was taken again as expired: %d", len(taken))
	}
}

// testSubjectDeleteConcurrent: the caller that gets the session sends the
// logout notifications, so exactly one of many may get it.
func testSubjectDeleteConcurrent(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	must(t, "create", e.SubjectSessions.Create(ctx, fixtureSubjectSession("ss1", "alice", Base)))
	errs := concurrently(func(int) error {
		_, err := e.SubjectSessions.Delete(ctx, "ss1")
		return err
	})
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("concurrent delete: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d callers got the deleted session, want exactly 1", won)
	}
}

func testSubjectTakeExpired(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	var want []string
	for i := range 5 {
		ss := fixtureSubjectSession(id("ss-exp", i), "alice", Base.Add(-2*time.Hour))
		ss.ExpiresAt = Base.Add(-time.Duration(5-i) * time.Minute) // ss-exp-00 expires first
		must(t, "create", e.SubjectSessions.Create(ctx, ss))
		want = append(want, ss.ID)
	}
	atNow := fixtureSubjectSession("ss-at-now", "bob", Base.Add(-time.Hour))
	atNow.ExpiresAt = Base
	must(t, "create", e.SubjectSessions.Create(ctx, atNow))
	want = append(want, atNow.ID)
	live := fixtureSubjectSession("ss-live", "alice", Base)
	live.ExpiresAt = Base.Add(time.Millisecond)
	must(t, "create", e.SubjectSessions.Create(ctx, live))

	first, err := e.SubjectSessions.TakeExpired(ctx, Base, 4)
	must(t, "first take", err)
	second, err := e.SubjectSessions.TakeExpired(ctx, Base, 4)
	must(t, "second take", err)
	third, err := e.SubjectSessions.TakeExpired(ctx, Base, 4)
	must(t, "third take", err)
	if len(first) != 4 || len(second) != 2 || len(third) != 0 {
		t.Fatalf("takes returned %d, %d, %d sessions; want 4, 2, 0", len(first), len(second), len(third))
	}
	var got []string
	for _, ss := range append(first, second...) {
		got = append(got, ss.ID)
	}
	diff(t, "taken sessions, earliest expiry first", want, got)
	diff(t, "taken session body", atNow, second[1])
	if _, err := e.SubjectSessions.Get(ctx, "ss-live", Base); err != nil {
		t.Errorf("live session: %v", err)
	}
	list, err := e.SubjectSessions.ListBySubject(ctx, "alice", Base.Add(-3*time.Hour))
	must(t, "list", err)
	if len(list) != 1 || list[0].ID != "ss-live" {
		t.Errorf("alice's sessions after take: %d, want only ss-live", len(list))
	}
	_, err = e.SubjectSessions.Delete(ctx, "ss-exp-00")
	wantErr(t, "delete taken", err, store.ErrNotFound)

	// An update that moves the expiry moves the session in the index.
	_, err = e.SubjectSessions.Update(ctx, "ss-live", Base, func(ss *store.SubjectSession) error {
		ss.ExpiresAt = Base.Add(time.Hour)
		return nil
	})
	must(t, "extend", err)
	taken, err := e.SubjectSessions.TakeExpired(ctx, Base.Add(30*time.Minute), 10)
	must(t, "take after extension", err)
	if len(taken) != 0 {
		t.Errorf("an extended session was taken as expired")
	}
	taken, err = e.SubjectSessions.TakeExpired(ctx, Base.Add(time.Hour), 10)
	must(t, "take at the new expiry", err)
	if len(taken) != 1 || taken[0].ID != "ss-live" {
		t.Errorf("take at the new expiry returned %d sessions, want ss-live", len(taken))
	}
}

// testSubjectTakeExpiredConcurrent: nodes purging at once must each get
// different sessions, so that every expiry is notified exactly once.
func testSubjectTakeExpiredConcurrent(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	const n = 40
	for i := range n {
		ss := fixtureSubjectSession(id("ss", i), "alice", Base.Add(-2*time.Hour))
		ss.ExpiresAt = Base.Add(-time.Duration(i) * time.Second)
		must(t, "create", e.SubjectSessions.Create(ctx, ss))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	errs := concurrently(func(int) error {
		for {
			taken, err := e.SubjectSessions.TakeExpired(ctx, Base, 3)
			if err != nil {
				return err
			}
			if len(taken) == 0 {
				return nil
			}
			mu.Lock()
			for _, ss := range taken {
				seen[ss.ID]++
			}
			mu.Unlock()
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent take: %v", err)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct sessions taken, want %d", len(seen), n)
	}
	for sid, c := range seen {
		if c != 1 {
			t.Errorf("session %s taken %d times", sid, c)
		}
	}
}

func testSubjectList(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	expired := fixtureSubjectSession("ss-expired", "alice", Base.Add(-2*time.Hour))
	expired.ExpiresAt = Base
	sessions := []*store.SubjectSession{
		fixtureSubjectSession("ss-new", "alice", Base.Add(-time.Minute)),
		fixtureSubjectSession("ss-bob", "bob", Base.Add(-10*time.Minute)),
		expired,
		fixtureSubjectSession("ss-old", "alice", Base.Add(-30*time.Minute)),
		fixtureSubjectSession("ss-mid", "alice", Base.Add(-20*time.Minute)),
	}
	for _, s := range sessions {
		must(t, "create", e.SubjectSessions.Create(ctx, s))
	}
	got, err := e.SubjectSessions.ListBySubject(ctx, "alice", Base)
	must(t, "list", err)
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	diff(t, "alice's sessions (live, oldest first)", []string{"ss-old", "ss-mid", "ss-new"}, ids)
	if len(got) == 3 {
		diff(t, "listed session", sessions[3], got[0])
	}
	got, err = e.SubjectSessions.ListBySubject(ctx, "carol", Base)
	must(t, "list", err)
	if len(got) != 0 {
		t.Errorf("unknown subject has %d sessions", len(got))
	}
}

func testSubjectTimes(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureSubjectSession("ss1", "alice", Base)
	s.AuthTime, s.CreatedAt, s.LastUsedAt, s.ExpiresAt = zoned(-time.Second), zoned(0), zoned(time.Second), zoned(time.Hour)
	must(t, "create", e.SubjectSessions.Create(ctx, s))
	got, err := e.SubjectSessions.Get(ctx, "ss1", Base)
	must(t, "get", err)
	checkTime(t, "AuthTime", s.AuthTime, got.AuthTime)
	checkTime(t, "CreatedAt", s.CreatedAt, got.CreatedAt)
	checkTime(t, "LastUsedAt", s.LastUsedAt, got.LastUsedAt)
	checkTime(t, "ExpiresAt", s.ExpiresAt, got.ExpiresAt)
	list, err := e.SubjectSessions.ListBySubject(ctx, "alice", Base)
	must(t, "list", err)
	if len(list) == 1 {
		checkTime(t, "listed CreatedAt", s.CreatedAt, list[0].CreatedAt)
	}
}

func testSubjectLarge(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	s := fixtureSubjectSession("ss1", "alice", Base)
	s.Claims = largeJSON()
	must(t, "create", e.SubjectSessions.Create(ctx, s))
	got, err := e.SubjectSessions.Get(ctx, "ss1", Base)
	must(t, "get", err)
	diff(t, "session with large claims", s, got)
}

// ---- single-use records: codes and pushed requests ----

// consumable adapts CodeStore and PARStore to one set of subtests.
type consumable struct {
	create  func(t *testing.T, id string, expiresAt time.Time) error
	consume func(t *testing.T, id string, now time.Time) (gotID string, err error)
}

func codes(e store.Ephemeral) consumable {
	return consumable{
		create: func(t *testing.T, id string, expiresAt time.Time) error {
			c := fixtureCode(id)
			c.ExpiresAt = expiresAt
			return e.Codes.Create(t.Context(), c)
		},
		consume: func(t *testing.T, id string, now time.Time) (string, error) {
			c, err := e.Codes.Consume(t.Context(), id, now)
			if c == nil {
				return "", err
			}
			return c.ID, err
		},
	}
}

func pars(e store.Ephemeral) consumable {
	return consumable{
		create: func(t *testing.T, id string, expiresAt time.Time) error {
			r := fixturePAR(id)
			r.ExpiresAt = expiresAt
			return e.PAR.Create(t.Context(), r)
		},
		consume: func(t *testing.T, id string, now time.Time) (string, error) {
			r, err := e.PAR.Consume(t.Context(), id, now)
			if r == nil {
				return "", err
			}
			return r.ID, err
		},
	}
}

func testCodeConsume(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	c := fixtureCode("code-1")
	must(t, "create", e.Codes.Create(ctx, c))
	wantErr(t, "duplicate", e.Codes.Create(ctx, fixtureCode("code-1")), store.ErrExists)
	got, err := e.Codes.Consume(ctx, "code-1", Base)
	must(t, "first consume", err)
	diff(t, "consumed code", c, got)
	got, err = e.Codes.Consume(ctx, "code-1", Base.Add(time.Second))
	wantErr(t, "second consume", err, store.ErrConsumed)
	// The replayed code comes back so the caller can revoke its grant.
	diff(t, "code returned with ErrConsumed", c, got)
}

func testPARConsume(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	r := fixturePAR("par-1")
	must(t, "create", e.PAR.Create(ctx, r))
	wantErr(t, "duplicate", e.PAR.Create(ctx, fixturePAR("par-1")), store.ErrExists)
	got, err := e.PAR.Consume(ctx, "par-1", Base)
	must(t, "first consume", err)
	diff(t, "consumed request", r, got)
	got, err = e.PAR.Consume(ctx, "par-1", Base)
	wantErr(t, "second consume", err, store.ErrConsumed)
	diff(t, "request returned with ErrConsumed", r, got)
}

func testCodeExpiry(t *testing.T, e store.Ephemeral) { testConsumeExpiry(t, codes(e)) }
func testPARExpiry(t *testing.T, e store.Ephemeral)  { testConsumeExpiry(t, pars(e)) }

func testConsumeExpiry(t *testing.T, c consumable) {
	_, err := c.consume(t, "nope", Base)
	wantErr(t, "consume unknown", err, store.ErrNotFound)

	exp := Base.Add(time.Minute)
	must(t, "create", c.create(t, "fresh", exp))
	_, err = c.consume(t, "fresh", exp)
	wantErr(t, "consume expired at now", err, store.ErrNotFound)

	must(t, "create", c.create(t, "used", exp))
	_, err = c.consume(t, "used", exp.Add(-time.Millisecond))
	must(t, "consume just before expiry", err)
	_, err = c.consume(t, "used", exp)
	wantErr(t, "consume a used record after expiry", err, store.ErrNotFound)
}

func testCodeConsumeConcurrent(t *testing.T, e store.Ephemeral) { testConsumeConcurrent(t, codes(e)) }
func testPARConsumeConcurrent(t *testing.T, e store.Ephemeral)  { testConsumeConcurrent(t, pars(e)) }

func testConsumeConcurrent(t *testing.T, c consumable) {
	must(t, "create", c.create(t, "one", Base.Add(time.Minute)))
	ids := make([]string, Goroutines)
	errs := concurrently(func(i int) error {
		var err error
		ids[i], err = c.consume(t, "one", Base)
		return err
	})
	WantOneWinner(t, "consume", errs)
	for i, got := range ids {
		if got != "one" {
			t.Errorf("goroutine %d got record %q (err %v), want %q", i, got, errs[i], "one")
		}
	}
}

func testPARDeleteByClient(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	for _, id := range []string{"p1", "p2", "p3"} {
		must(t, "create", e.PAR.Create(ctx, fixturePAR(id)))
	}
	other := fixturePAR("q1")
	other.ClientID = "client-2"
	must(t, "create", e.PAR.Create(ctx, other))
	_, err := e.PAR.Consume(ctx, "p3", Base) // a consumed one goes too
	must(t, "consume", err)

	n, err := e.PAR.DeleteByClient(ctx, "client-1")
	must(t, "delete by client", err)
	if n != 3 {
		t.Errorf("DeleteByClient removed %d requests, want 3", n)
	}
	for _, id := range []string{"p1", "p2", "p3"} {
		_, err := e.PAR.Consume(ctx, id, Base)
		wantErr(t, "consume "+id+" of a deleted client", err, store.ErrNotFound)
	}
	if _, err := e.PAR.Consume(ctx, "q1", Base); err != nil {
		t.Errorf("request of another client: %v", err)
	}
	n, err = e.PAR.DeleteByClient(ctx, "client-1")
	must(t, "delete again", err)
	if n != 0 {
		t.Errorf("second DeleteByClient removed %d, want 0", n)
	}
	// Requests pushed later under the same client ID are indexed afresh.
	must(t, "create after delete", e.PAR.Create(ctx, fixturePAR("p4")))
	if n, err := e.PAR.DeleteByClient(ctx, "client-1"); err != nil || n != 1 {
		t.Errorf("DeleteByClient after a new push = %d, %v; want 1, nil", n, err)
	}
}

func testCodeTimes(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	c := fixtureCode("code-1")
	c.CreatedAt, c.ExpiresAt = zoned(0), zoned(time.Minute)
	c.Grant.AuthTime, c.Grant.CreatedAt, c.Grant.ExpiresAt = zoned(-time.Second), zoned(0), zoned(time.Hour)
	c.Grant.ClaimsData = largeJSON()
	must(t, "create", e.Codes.Create(ctx, c))
	got, err := e.Codes.Consume(ctx, "code-1", Base)
	must(t, "consume", err)
	checkTime(t, "CreatedAt", c.CreatedAt, got.CreatedAt)
	checkTime(t, "ExpiresAt", c.ExpiresAt, got.ExpiresAt)
	checkTime(t, "Grant.AuthTime", c.Grant.AuthTime, got.Grant.AuthTime)
	checkTime(t, "Grant.CreatedAt", c.Grant.CreatedAt, got.Grant.CreatedAt)
	checkTime(t, "Grant.ExpiresAt", c.Grant.ExpiresAt, got.Grant.ExpiresAt)
	diff(t, "Grant.ClaimsData", c.Grant.ClaimsData, got.Grant.ClaimsData)
}

// ---- replay cache ----

func testReplay(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	until := Base.Add(time.Minute)
	for _, step := range []struct {
		name  string
		key   string
		until time.Time
		now   time.Time
		want  bool
	}{
		{"first use", "jti-1", until, Base, false},
		{"replay", "jti-1", until, Base.Add(time.Second), true},
		{"replay again", "jti-1", until, until.Add(-time.Millisecond), true},
		{"other key", "jti-2", until, Base, false},
		{"after until", "jti-1", until.Add(time.Hour), until, false},
		{"recorded anew", "jti-1", until.Add(time.Hour), until.Add(time.Minute), true},
		// until = now asks without leaving a live entry (the pushed-request
		// completion check relies on it): a fresh key stays unused, a live
		// one is reported and kept.
		{"ask fresh", "jti-3", Base, Base, false},
		{"ask fresh again", "jti-3", Base, Base, false},
		{"mark after asking", "jti-3", until, Base, false},
		{"ask live", "jti-3", Base.Add(time.Second), Base.Add(time.Second), true},
		{"still live", "jti-3", until, Base.Add(2 * time.Second), true},
	} {
		used, err := e.Replay.MarkUsed(ctx, ReplayKey(step.key), step.until, step.now)
		must(t, step.name, err)
		if used != step.want {
			t.Errorf("%s: alreadyUsed = %v, want %v", step.name, used, step.want)
		}
	}
}

func testReplayConcurrent(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	used := make([]bool, Goroutines)
	errs := concurrently(func(i int) error {
		var err error
		used[i], err = e.Replay.MarkUsed(ctx, ReplayKey("jti"), Base.Add(time.Minute), Base)
		return err
	})
	first := 0
	for i, err := range errs {
		must(t, "mark used", err)
		if !used[i] {
			first++
		}
	}
	if first != 1 {
		t.Errorf("%d callers saw the key as new, want exactly 1", first)
	}
}

// ---- purge ----

func testEphemeralPurge(t *testing.T, e store.Ephemeral) {
	ctx := t.Context()
	// Subject sessions are not the Purger's (TakeExpired takes them), so
	// four kinds count.
	const perKind, limit, kinds = 5, 3, 4
	for i := range perKind {
		exp := Base.Add(-time.Duration(i) * time.Minute) // the first expires exactly at now
		as := fixtureAuthzSession(id("as-exp", i))
		as.CreatedAt, as.ExpiresAt = exp.Add(-time.Hour), exp
		must(t, "create", e.AuthzSessions.Create(ctx, as))
		ss := fixtureSubjectSession(id("ss-exp", i), "alice", exp.Add(-time.Hour))
		ss.ExpiresAt = exp
		must(t, "create", e.SubjectSessions.Create(ctx, ss))
		c := fixtureCode(id("code-exp", i))
		c.ExpiresAt = exp
		must(t, "create", e.Codes.Create(ctx, c))
		r := fixturePAR(id("par-exp", i))
		r.ExpiresAt = exp
		must(t, "create", e.PAR.Create(ctx, r))
		_, err := e.Replay.MarkUsed(ctx, ReplayKey(id("jti-exp", i)), exp, exp.Add(-time.Hour))
		must(t, "mark used", err)
	}
	live := Base.Add(time.Millisecond)
	as := fixtureAuthzSession("as-live")
	as.ExpiresAt = live
	must(t, "create", e.AuthzSessions.Create(ctx, as))
	ss := fixtureSubjectSession("ss-live", "alice", Base)
	ss.ExpiresAt = live
	must(t, "create", e.SubjectSessions.Create(ctx, ss))
	c := fixtureCode("code-live")
	c.ExpiresAt = live
	must(t, "create", e.Codes.Create(ctx, c))
	r := fixturePAR("par-live")
	r.ExpiresAt = live
	must(t, "create", e.PAR.Create(ctx, r))
	_, err := e.Replay.MarkUsed(ctx, ReplayKey("jti-live"), live, Base.Add(-time.Hour))
	must(t, "mark used", err)

	n1, err := e.Purger.Purge(ctx, Base, limit)
	must(t, "first purge", err)
	n2, err := e.Purger.Purge(ctx, Base, limit)
	must(t, "second purge", err)
	n3, err := e.Purger.Purge(ctx, Base, limit)
	must(t, "third purge", err)
	if n1 > kinds*limit || n2 > kinds*limit || n3 > kinds*limit {
		t.Errorf("purges removed %d, %d, %d records, more than %d per kind", n1, n2, n3, limit)
	}
	// A backend whose storage expires records by itself (Redis TTLs) may
	// have nothing left to purge; one that purges must account exactly.
	if n1 > 0 && (n1+n2 != kinds*perKind || n3 != 0) {
		t.Errorf("purges removed %d, %d, %d records; want %d in the first two and 0 in the third", n1, n2, n3, kinds*perKind)
	}

	if _, err := e.AuthzSessions.Get(ctx, "as-live", Base); err != nil {
		t.Errorf("live authz session: %v", err)
	}
	if _, err := e.SubjectSessions.Get(ctx, "ss-live", Base); err != nil {
		t.Errorf("live subject session: %v", err)
	}
	list, err := e.SubjectSessions.ListBySubject(ctx, "alice", Base)
	must(t, "list", err)
	if len(list) != 1 || list[0].ID != "ss-live" {
		t.Errorf("alice's sessions after purge: %d, want only ss-live", len(list))
	}
	if _, err := e.Codes.Consume(ctx, "code-live", Base); err != nil {
		t.Errorf("live code: %v", err)
	}
	if _, err := e.PAR.Consume(ctx, "par-live", Base); err != nil {
		t.Errorf("live pushed request: %v", err)
	}
	used, err := e.Replay.MarkUsed(ctx, ReplayKey("jti-live"), live, Base)
	must(t, "mark used", err)
	if !used {
		t.Error("purge forgot a live replay key")
	}
	for i := range perKind {
		if _, err := e.Codes.Consume(ctx, id("code-exp", i), Base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired code %d: err = %v", i, err)
		}
	}
	// The purge left the expired subject sessions for TakeExpired, whose
	// caller sends their logout notifications.
	taken, err := e.SubjectSessions.TakeExpired(ctx, Base, 2*perKind)
	must(t, "take expired", err)
	if len(taken) != perKind {
		t.Errorf("TakeExpired after purge took %d sessions, want %d", len(taken), perKind)
	}
}
