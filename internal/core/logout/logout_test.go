package logout

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/internal/testkeys"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
)

const issuer = "https://op.example.com"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type clients map[string]*store.Client

func (c clients) Get(_ context.Context, id string) (*store.Client, error) {
	if cl, ok := c[id]; ok {
		return cl, nil
	}
	return nil, store.ErrNotFound
}

type revokeCall struct {
	sub, key, client string
	all              bool
}

type recorder struct {
	mu      sync.Mutex
	sent    []Notification
	revoked []revokeCall
}

func (r *recorder) Send(_ context.Context, n Notification) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, n)
}

func (r *recorder) RevokeSession(_ context.Context, sub, key, client string, all bool) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked = append(r.revoked, revokeCall{sub, key, client, all})
	return 1, nil
}

type fixture struct {
	svc   *Service
	rec   *recorder
	clock *testclock.Clock
}

func newFixture(t *testing.T, mode string) *fixture {
	t.Helper()
	ms, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.DeriveKeys(make([]byte, secret.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(t0)
	rec := &recorder{}
	sessions := &session.Service{Store: ms.Ephemeral().SubjectSessions, MACKey: keys.SessionMAC, Now: clock.Now}
	svc := &Service{
		Config:   Config{Issuer: issuer, RevokeTokens: mode},
		Sessions: sessions,
		Clients: clients{
			"app": {ID: "app", Metadata: store.ClientMetadata{ClientName: "App", BackchannelLogoutURI: "https://app.example.com/bcl",
				FrontchannelLogoutURI: "https://app.example.com/fcl", PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}}},
			"quiet": {ID: "quiet"},
		},
		Keys: testkeys.Manager(t), Revoker: rec, BackChannel: rec,
		Sealer: keys.Sealer, Replay: ms.Ephemeral().Replay, Now: clock.Now,
	}
	sessions.Ended = svc.SessionEnded
	return &fixture{svc: svc, rec: rec, clock: clock}
}

func (f *fixture) login(t *testing.T, sub string, rps ...string) (*store.SubjectSession, string) {
	t.Helper()
	sess, sid, err := f.svc.Sessions.Create(t.Context(), session.Login{Sub: sub})
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range rps {
		if err := f.svc.Sessions.AddRP(t.Context(), sess.ID, rp); err != nil {
			t.Fatal(err)
		}
	}
	return sess, sid
}

func (f *fixture) idToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	tok, err := testkeys.Manager(t).Sign(oauth.AlgRS256, "JWT", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestConfirmThenEnd(t *testing.T) {
	f := newFixture(t, "")
	sess, sid := f.login(t, "alice", "app", "quiet")
	hint := f.idToken(t, map[string]any{"iss": issuer, "sub": "alice", "aud": "app", "exp": t0.Add(-time.Hour).Unix()})
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s"}, "ui_locales": {"de en"}}
	m, err := f.svc.Start(t.Context(), StartRequest{Query: q.Encode(), SubSID: sid})
	if err != nil || m.Type != TypeConfirm || m.Client.ClientID != "app" || !m.IDTokenHintPresent || len(m.UILocales) != 2 {
		t.Fatalf("Start = %+v, %v", m, err)
	}
	// Expired logout session.
	f.clock.Advance(DefaultSessionLifetime + time.Second)
	if _, err := f.svc.Submit(t.Context(), m.SID, Decision{OPLogout: ptr(true)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Submit after the logout session expired: %v", err)
	}
	m, _ = f.svc.Start(t.Context(), StartRequest{Query: q.Encode(), SubSID: sid})
	end, err := f.svc.Submit(t.Context(), m.SID, Decision{ConfirmLogout: ptr(true)})
	if err != nil || end.Type != TypeEnd || !*end.SubSessionClosed || end.PostLogoutRedirectURI != "https://app.example.com/bye?state=s" {
		t.Fatalf("Submit = %+v, %v", end, err)
	}
	if len(end.FrontChannelURIs) != 1 || !strings.Contains(end.FrontChannelURIs[0], "sid="+session.PublicID(sess.ID)) {
		t.Errorf("front-channel URIs %v", end.FrontChannelURIs)
	}
	if len(f.rec.sent) != 1 || f.rec.sent[0].ClientID != "app" {
		t.Fatalf("back-channel notifications %+v, want one to app", f.rec.sent)
	}
	if len(f.rec.revoked) != 1 || f.rec.revoked[0] != (revokeCall{"alice", sess.ID, "", false}) {
		t.Errorf("revocations %+v", f.rec.revoked)
	}
	if _, err := f.svc.Submit(t.Context(), m.SID, Decision{OPLogout: ptr(true)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Submit: %v, want ErrNotFound", err)
	}
	payload, err := testkeys.Manager(t).Verify(f.rec.sent[0].Token, []string{oauth.AlgRS256})
	if err != nil {
		t.Fatal(err)
	}
	var c LogoutClaims
	json.Unmarshal(payload, &c)
	if c.Issuer != issuer || c.Subject != "alice" || c.SessionID != session.PublicID(sess.ID) || c.Audience[0] != "app" ||
		c.Expiry-c.IssuedAt != int64(DefaultTokenLifetime/time.Second) {
		t.Errorf("logout token claims %+v", c)
	}
}

func TestRevokeModes(t *testing.T) {
	for mode, want := range map[string][]revokeCall{
		RevokeNone:   nil,
		RevokeAll:    {{"bob", "", "", true}},
		RevokeOnline: {{"bob", "", "", false}},
	} {
		t.Run(mode, func(t *testing.T) {
			f := newFixture(t, mode)
			sess, sid := f.login(t, "bob", "app")
			if _, err := f.svc.Sessions.End(t.Context(), sid); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i].key = sess.ID
			}
			if len(f.rec.revoked) != len(want) || (len(want) > 0 && f.rec.revoked[0] != want[0]) {
				t.Errorf("revocations %+v, want %+v", f.rec.revoked, want)
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	f := newFixture(t, "")
	_, sid := f.login(t, "carol", "app")
	good := f.idToken(t, map[string]any{"iss": issuer, "sub": "carol", "aud": "app"})
	for name, tc := range map[string]struct {
		query, code string
	}{
		"malformed":          {"a=%zz", oauth.ErrCodeInvalidRequest},
		"too long":           {"state=" + strings.Repeat("x", maxQuery), oauth.ErrCodeInvalidRequest},
		"other issuer":       {"id_token_hint=" + f.idToken(t, map[string]any{"iss": "https://evil", "sub": "carol", "aud": "app"}), ErrCodeInvalidIDTokenHint},
		"access token typ":   {"id_token_hint=" + mustSign(t, "at+jwt", map[string]any{"iss": issuer, "sub": "carol", "aud": "app"}), ErrCodeInvalidIDTokenHint},
		"no single audience": {"id_token_hint=" + f.idToken(t, map[string]any{"iss": issuer, "sub": "carol", "aud": []string{"app", "quiet"}}), ErrCodeInvalidIDTokenHint},
		"other user":         {"id_token_hint=" + f.idToken(t, map[string]any{"iss": issuer, "sub": "mallory", "aud": "app"}), ErrCodeHintSubMismatch},
		"client mismatch":    {"client_id=quiet&id_token_hint=" + good, ErrCodeInvalidIDTokenHint},
		"unregistered":       {"client_id=app&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye%2F", oauth.ErrCodeInvalidRequest},
	} {
		t.Run(name, func(t *testing.T) {
			m, err := f.svc.Start(t.Context(), StartRequest{Query: tc.query, SubSID: sid})
			if err != nil || m.Type != TypeError || m.Error != tc.code || m.PostLogoutRedirectURI != "" {
				t.Errorf("Start = %+v, %v; want error %s", m, err, tc.code)
			}
		})
	}
	if len(f.rec.sent) != 0 {
		t.Error("a refused request notified a client")
	}
}

// A logout the provider starts (empty query) is never confirmed.
func TestProviderInitiated(t *testing.T) {
	f := newFixture(t, "")
	_, sid := f.login(t, "dan", "app")
	m, err := f.svc.Start(t.Context(), StartRequest{SubSID: sid})
	if err != nil || m.Type != TypeEnd || !*m.SubSessionClosed {
		t.Fatalf("Start = %+v, %v", m, err)
	}
	m, err = f.svc.Start(t.Context(), StartRequest{SubSID: sid + "x"})
	if err != nil || m.Type != TypeEnd || *m.SubSessionClosed {
		t.Fatalf("Start with a forged session = %+v, %v", m, err)
	}
}

func mustSign(t *testing.T, typ string, claims map[string]any) string {
	tok, err := testkeys.Manager(t).Sign(oauth.AlgRS256, typ, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func ptr[T any](v T) *T { return &v }

// FuzzDecodeDecision: the PUT body parser never panics and accepts only
// booleans under the two known names.
func FuzzDecodeDecision(f *testing.F) {
	for _, s := range []string{`{"op_logout":true}`, `{"confirm_logout":false}`, `{}`, `[]`, `{"op_logout":1}`, `null`, `{"x":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeDecision(body)
		if err != nil {
			if oauth.AsError(err) == nil {
				t.Fatalf("error %v is not an OAuth error", err)
			}
			return
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		_ = d
	})
}

// FuzzStart: any query string and cookie value gives a message (never a
// Go error, never a panic), and an error message never carries a redirect.
func FuzzStart(f *testing.F) {
	for _, s := range []string{"", "client_id=app", "post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&client_id=app&state=x",
		"id_token_hint=a.b.c", "a=%zz", "state=1&state=2"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, query, subSID string) {
		fx := newFixture(t, "")
		m, err := fx.svc.Start(context.Background(), StartRequest{Query: query, SubSID: subSID})
		if err != nil {
			t.Fatalf("Start(%q): %v", query, err)
		}
		if m.Type == TypeError && m.PostLogoutRedirectURI != "" {
			t.Fatalf("error with redirect: %+v", m)
		}
		if m.PostLogoutRedirectURI != "" && !strings.HasPrefix(m.PostLogoutRedirectURI, "https://app.example.com/bye") {
			t.Fatalf("redirect to an unregistered URI: %q", m.PostLogoutRedirectURI)
		}
	})
}
