package sessionstore

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newService(t testing.TB) (*Service, *testclock.Clock) {
	t.Helper()
	ms, err := memstore.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := testclock.New(t0)
	return &Service{Sessions: &session.Service{Store: ms.Ephemeral().SubjectSessions, MACKey: []byte("0123456789abcdef0123456789abcdef"),
		Config: session.Config{MaxIdle: time.Hour}, Now: c.Now}}, c
}

func TestGetSkipsTouch(t *testing.T) {
	s, c := newService(t)
	_, sid, err := s.Sessions.Create(t.Context(), session.Login{Sub: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(50 * time.Minute)
	if _, err := s.Get(t.Context(), sid, url.Values{"skip_last_used_update": {"true"}}); err != nil {
		t.Fatal(err)
	}
	c.Advance(20 * time.Minute) // 70 min since the last use: idle
	if _, err := s.Get(t.Context(), sid, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a skipped update still moved the idle timer: %v", err)
	}
}

func TestUpdateRoundTrip(t *testing.T) {
	s, _ := newService(t)
	_, sid, err := s.Sessions.Create(t.Context(), session.Login{Sub: "alice", AMR: []string{"pwd"}, Claims: map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(t.Context(), sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.Data = map[string]any{"x": "y"}
	body, _ := json.Marshal(v)
	got, err := s.Update(t.Context(), sid, nil, body)
	if err != nil || got.Data["x"] != "y" || got.Claims["a"] != "b" {
		t.Fatalf("Update of an unchanged GET = %+v, %v", got, err)
	}
	for _, bad := range []string{`{"sub":"bob"}`, `{"amr":["otp"]}`, `{"rps":["x"]}`, `{"creation_time":1}`, `{"ctx":"NCG"}`} {
		if _, err := s.Update(t.Context(), sid, nil, []byte(bad)); oauth.AsError(err) == nil {
			t.Errorf("Update(%s) = %v, want invalid_request", bad, err)
		}
	}
}

// FuzzUpdate: any PUT body is answered with an OAuth error or applied,
// never a panic or another error, and sub never changes.
func FuzzUpdate(f *testing.F) {
	for _, s := range []string{`{"data":{"a":1}}`, `{"max_idle":-1,"auth_life":0}`, `{"sub":"alice"}`, `{}`, `[]`, `{"claims":null}`, `{"max_life":1e99}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, _ := newService(t)
		_, sid, err := s.Sessions.Create(t.Context(), session.Login{Sub: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Update(t.Context(), sid, nil, body)
		if err != nil {
			if oauth.AsError(err) == nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Update(%q): %v", body, err)
			}
			return
		}
		if v.Sub != "alice" {
			t.Fatalf("sub changed to %q", v.Sub)
		}
	})
}
