package authz

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func wantInvalidRequest(t *testing.T, err error) {
	t.Helper()
	if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
		t.Errorf("err = %v, want invalid_request 400", err)
	}
}

// wantGone: after its final response a session is gone (HTTP 404), as in
// Connect2id.
func wantGone(t *testing.T, err error) {
	t.Helper()
	if oauth.AsError(err) != nil || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("err = %v, want store.ErrNotFound (404)", err)
	}
}

func TestStateMachine(t *testing.T) {
	ctx := context.Background()
	t.Run("consent while auth pending", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.start(query(), "")
		_, err := submitJSON(ctx, e.svc, m.SID, consentAll_)
		wantInvalidRequest(t, err)
	})
	t.Run("auth while consent pending", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.submit(e.start(query(), "").SID, authAlice)
		_, err := submitJSON(ctx, e.svc, m.SID, authAlice)
		wantInvalidRequest(t, err)
	})
	t.Run("identical re-submission after done replays", func(t *testing.T) {
		e := newEnv(t, Config{})
		m := e.submit(e.start(query(), "").SID, authAlice)
		sid := m.SID
		first := e.submit(sid, consentAll_)
		again := e.submit(sid, consentAll_)
		if d := cmp.Diff(first, again); d != "" {
			t.Errorf("replayed message differs (-first +again):\n%s", d)
		}
		_, err := submitJSON(ctx, e.svc, sid, `{"scope":["openid"]}`)
		wantGone(t, err)
		_, err = submitJSON(ctx, e.svc, sid, authAlice)
		wantGone(t, err)
		_, err = e.svc.Cancel(ctx, sid, "", "", "")
		wantGone(t, err)
		_, err = e.svc.Get(ctx, sid)
		wantGone(t, err)
		_, err = e.svc.Data(ctx, sid)
		wantGone(t, err)
		_, err = e.svc.PutData(ctx, sid, []byte(`{"a":1}`))
		wantGone(t, err)
		raw, _ := e.eph.AuthzSessions.Get(ctx, sid, e.clock.Now())
		_, v := params(t, first)
		if raw == nil || len(raw.Final) == 0 || v.Get("code") == "" || bytes.Contains(raw.Final, []byte(v.Get("code"))) {
			t.Error("the kept final message is missing or holds the code in the clear")
		}
	})
	t.Run("without sealer no replay", func(t *testing.T) {
		e := newEnv(t, Config{})
		e.svc.Sealer = nil
		sid := e.submit(e.start(query(), "").SID, authAlice).SID
		e.submit(sid, consentAll_)
		_, err := submitJSON(ctx, e.svc, sid, consentAll_)
		wantGone(t, err)
	})
	t.Run("double submit window", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid := e.submit(e.start(query(), "").SID, authAlice).SID
		first := e.submit(sid, consentAll_)
		e.clock.Advance(DoubleSubmitWindow)
		if again, err := submitJSON(ctx, e.svc, sid, consentAll_); err != nil || !cmp.Equal(first, again) {
			t.Errorf("re-submission at the end of the window = %+v, %v", again, err)
		}
		e.clock.Advance(time.Second)
		_, err := submitJSON(ctx, e.svc, sid, consentAll_)
		wantGone(t, err)
	})
	t.Run("cancel", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid := e.start(query(), "").SID
		m, err := e.svc.Cancel(ctx, sid, "", "", "")
		if err != nil {
			t.Fatal(err)
		}
		_, v := params(t, m)
		want := url.Values{"error": {"access_denied"}, "state": {"st-1"}, "iss": {issuer}}
		if d := cmp.Diff(want, v); d != "" {
			t.Errorf("cancel response (-want +got):\n%s", d)
		}
		_, err = e.svc.Cancel(ctx, sid, "", "", "")
		wantGone(t, err)
		_, err = submitJSON(ctx, e.svc, sid, authAlice)
		wantGone(t, err)
		_, err = e.svc.Get(ctx, sid)
		wantGone(t, err)
	})
	t.Run("cancel with custom error while consent pending", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid := e.submit(e.start(query(), "").SID, authAlice).SID
		m, err := e.svc.Cancel(ctx, sid, "login_required", "try again", "https://op.example.com/err")
		if err != nil {
			t.Fatal(err)
		}
		_, v := params(t, m)
		if v.Get("error") != "login_required" || v.Get("error_description") != "try again" || v.Get("error_uri") != "https://op.example.com/err" {
			t.Errorf("cancel response %v", v)
		}
		if m.SubSID == "" {
			t.Error("sub_sid missing although the session was created in this flow")
		}
	})
	for _, bad := range [][3]string{{"bad\"code", "", ""}, {"x", "line\nbreak", ""}, {"x", "", "back\\slash"}, {"é", "", ""}} {
		t.Run("cancel rejects "+bad[0]+bad[1]+bad[2], func(t *testing.T) {
			e := newEnv(t, Config{})
			sid := e.start(query(), "").SID
			_, err := e.svc.Cancel(ctx, sid, bad[0], bad[1], bad[2])
			wantInvalidRequest(t, err)
		})
	}
	t.Run("unknown and expired sessions are not found", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid := e.start(query(), "").SID
		for name, call := range map[string]func(string) error{
			"get":    func(s string) error { _, err := e.svc.Get(ctx, s); return err },
			"submit": func(s string) error { _, err := submitJSON(ctx, e.svc, s, authAlice); return err },
			"cancel": func(s string) error { _, err := e.svc.Cancel(ctx, s, "", "", ""); return err },
		} {
			if err := call("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s unknown: %v", name, err)
			}
			if err := call(""); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s empty: %v", name, err)
			}
		}
		e.clock.Advance(14 * time.Minute)
		if _, err := e.svc.Get(ctx, sid); err != nil {
			t.Errorf("Get before expiry: %v", err)
		}
		e.clock.Advance(time.Minute)
		if _, err := submitJSON(ctx, e.svc, sid, authAlice); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Submit after 15 min: %v, want ErrNotFound", err)
		}
	})
	t.Run("get session object", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid := e.submit(e.start(query("login_hint", "ann"), "").SID, authAlice).SID
		obj, err := e.svc.Get(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		if obj.State != store.AuthzStateConsentPending || obj.Subject != "alice" || obj.AuthReq.LoginHint != "ann" ||
			obj.AuthReq.ClientID != "web" || obj.SubSession == nil || obj.SubSession.Sub != "alice" || obj.AuthReq.Params["state"][0] != "st-1" {
			t.Errorf("session object %+v", obj)
		}
	})
}

// Concurrent identical submissions: one wins the compare-and-set, the others
// get its kept final message, so every caller sees the same code.
func TestConcurrentIdenticalConsent(t *testing.T) {
	e := newEnv(t, Config{})
	sid := e.submit(e.start(query(), "").SID, authAlice).SID
	const n = 8
	out := make(chan *Message, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			m, err := submitJSON(context.Background(), e.svc, sid, consentAll_)
			out <- m
			errs <- err
		}()
	}
	var first *Message
	for range n {
		m, err := <-out, <-errs
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = m
		} else if !cmp.Equal(first, m) {
			t.Errorf("callers saw different final messages:\n%+v\n%+v", first, m)
		}
	}
}

// A re-submission is recognised by what it decodes to, not by its bytes:
// a UI that re-encodes the same consent (other whitespace, member order,
// map key order, an ignored member) gets the kept final message.
func TestSemanticallyIdenticalResubmissionReplays(t *testing.T) {
	const consent = `{"scope":["openid","email"],"claims":["*"],"long_lived":true,` +
		`"data":{"a":1,"b":[true,"x"]},"access_token":{"lifetime":600,"encoding":"SELF_CONTAINED"}}`
	for name, again := range map[string]string{
		"whitespace": " {\n\t\"scope\" : [ \"openid\" , \"email\" ] , \"claims\" : [\"*\"] , \"long_lived\" : true ,\n" +
			"\"data\" : { \"a\" : 1 , \"b\" : [ true , \"x\" ] } , \"access_token\" : { \"lifetime\" : 600 , \"encoding\" : \"SELF_CONTAINED\" } }\r\n",
		"member order": `{"access_token":{"encoding":"SELF_CONTAINED","lifetime":600},"data":{"b":[true,"x"],"a":1},` +
			`"long_lived":true,"claims":["*"],"scope":["openid","email"]}`,
		"ignored member": `{"scope":["openid","email"],"claims":["*"],"long_lived":true,"ui_hint":"ignored",` +
			`"data":{"a":1.0,"b":[true,"x"]},"access_token":{"lifetime":600,"encoding":"SELF_CONTAINED"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Config{})
			sid := e.submit(e.start(query("scope", "openid email"), "").SID, authAlice).SID
			first := e.submit(sid, consent)
			if first.Type != TypeResponse {
				t.Fatalf("consent gave %+v, want the final response", first)
			}
			replayed, err := submitJSON(context.Background(), e.svc, sid, again)
			if err != nil {
				t.Fatalf("re-submission: %v", err)
			}
			if d := cmp.Diff(first, replayed); d != "" {
				t.Errorf("replayed message differs (-first +again):\n%s", d)
			}
			// A different decision finds no session.
			_, err = submitJSON(context.Background(), e.svc, sid, `{"scope":["openid"],"claims":["*"],"long_lived":true}`)
			wantGone(t, err)
		})
	}
}

// The typed entry points check what they are given, since an embedding
// program may call them without DecodeSubmission: a bad value is
// invalid_request and leaves the session where it was.
func TestSubmitTypedValuesAreChecked(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{})
	sid := e.start(query(), "").SID
	for name, call := range map[string]func() (*Message, error){
		"nil auth":  func() (*Message, error) { return e.svc.SubmitAuth(ctx, sid, nil) },
		"empty sub": func() (*Message, error) { return e.svc.SubmitAuth(ctx, sid, &SubjectAuth{}) },
		"negative time": func() (*Message, error) {
			return e.svc.SubmitAuth(ctx, sid, &SubjectAuth{Sub: "a", AuthTime: ptr(int64(-1))})
		},
		"unencodable auth": func() (*Message, error) {
			return e.svc.SubmitAuth(ctx, sid, &SubjectAuth{Sub: "a", Data: map[string]any{"x": math.NaN()}})
		},
	} {
		_, err := call()
		if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
			t.Errorf("%s: err = %v, want invalid_request 400", name, err)
		}
	}
	sid = e.submit(sid, authAlice).SID
	for name, c := range map[string]*Consent{
		"nil consent":         nil,
		"bad encoding":        {Scope: []string{"openid"}, AccessToken: &AccessTokenSpec{Encoding: "JWT"}},
		"illegal scope":       {Scope: []string{"a b"}},
		"unencodable consent": {Scope: []string{"openid"}, ClaimsData: map[string]any{"f": func() {}}},
	} {
		_, err := e.svc.SubmitConsent(ctx, sid, c)
		if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
			t.Errorf("%s: err = %v, want invalid_request 400", name, err)
		}
	}
	if obj, err := e.svc.Get(ctx, sid); err != nil || obj.State != store.AuthzStateConsentPending {
		t.Errorf("session after refused submissions: %+v, %v", obj, err)
	}
}
