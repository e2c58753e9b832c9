package authz

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func pushParams(kv ...string) url.Values {
	v, _ := url.ParseQuery(query(kv...))
	return v
}

func (e *env) client(id string) *store.Client {
	c, err := e.dur.Clients.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestPushAndUse(t *testing.T) {
	e := newEnv(t, Config{})
	uri, exp, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "par", "state", "pushed"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, parRequestURIPrefix) || exp != 60 {
		t.Fatalf("Push = %q, %d", uri, exp)
	}
	q := url.Values{"client_id": {"par"}, "request_uri": {uri}, "state": {"ignored"}}.Encode()
	m := e.start(q, "")
	if m.Type != TypeAuth {
		t.Fatalf("Start with request_uri = %+v", m)
	}
	m = e.submit(e.submit(m.SID, authAlice).SID, consentAll_)
	_, v := params(t, m)
	if v.Get("state") != "pushed" || v.Get("code") == "" {
		t.Errorf("response %v: want the pushed state and a code", v)
	}
	// Single use (RFC 9126 §4).
	if m := e.start(q, ""); m.Type != TypeError || m.Error != oauth.ErrCodeInvalidRequestURI {
		t.Errorf("second use = %+v, want invalid_request_uri error", m)
	}
}

func TestPushedRequestRejectedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		client  string
	}{
		{"expired", 61 * time.Second, "par"},
		{"other client", 0, "web"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			uri, _, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "par"))
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tc.advance)
			m := e.start(url.Values{"client_id": {tc.client}, "request_uri": {uri}}.Encode(), "")
			if m.Type != TypeError || m.Error != oauth.ErrCodeInvalidRequestURI {
				t.Errorf("got %+v, want invalid_request_uri error", m)
			}
		})
	}
}

func TestPushRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params url.Values
		code   string
	}{
		{"client_id mismatch", pushParams("client_id", "web"), oauth.ErrCodeInvalidRequest},
		{"request_uri inside", pushParams("client_id", "par", "request_uri", parRequestURIPrefix+"x"), oauth.ErrCodeInvalidRequest},
		{"unregistered redirect_uri", pushParams("client_id", "par", "redirect_uri", "https://evil.example/"), oauth.ErrCodeInvalidRequest},
		{"unsupported response_type", pushParams("client_id", "par", "response_type", "token"), oauth.ErrCodeUnsupportedResponseType},
		{"bad scope", pushParams("client_id", "par", "scope", "a\\b"), oauth.ErrCodeInvalidScope},
		{"request object", pushParams("client_id", "par", "request", "x.y.z"), oauth.ErrCodeRequestNotSupported},
		{"repeated parameter", func() url.Values { v := pushParams("client_id", "par"); v.Add("state", "2"); return v }(), oauth.ErrCodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			_, _, err := e.svc.Push(context.Background(), e.client("par"), tc.params)
			oe := oauth.AsError(err)
			if oe == nil || oe.Code != tc.code || oe.Status != 400 {
				t.Errorf("err = %v, want %s 400", err, tc.code)
			}
		})
	}
	t.Run("client_id may be omitted", func(t *testing.T) {
		e := newEnv(t, Config{})
		if _, _, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "")); err != nil {
			t.Error(err)
		}
	})
}

// recordingPAR and recordingSessions keep what the service hands to the
// store, on top of the real (memory) store.
type recordingPAR struct {
	store.PARStore
	created []*store.PushedRequest
}

func (r *recordingPAR) Create(ctx context.Context, p *store.PushedRequest) error {
	r.created = append(r.created, p)
	return r.PARStore.Create(ctx, p)
}

type recordingSessions struct {
	store.AuthzSessionStore
	created []*store.AuthzSession
}

func (r *recordingSessions) Create(ctx context.Context, a *store.AuthzSession) error {
	r.created = append(r.created, a)
	return r.AuthzSessionStore.Create(ctx, a)
}

// TestClientAuthParamsNeverStored: the client authentication parameters a
// client posts to /par with its request (client_secret_post, or an
// assertion) are never stored with the request nor shown through the
// session API, and neither are those sent on the front channel.
func TestClientAuthParamsNeverStored(t *testing.T) {
	const (
		sec  = "s3cret-client-secret-value"
		asrt = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJwYXIifQ.c2ln"
	)
	authParams := []string{"client_secret", "client_assertion", "client_assertion_type"}
	check := func(t *testing.T, where string, p map[string][]string) {
		t.Helper()
		for _, name := range authParams {
			if v, ok := p[name]; ok {
				t.Errorf("%s holds %s = %q", where, name, v)
			}
		}
		if p["state"] == nil {
			t.Errorf("%s lost the request's other parameters: %v", where, p)
		}
	}
	for _, tc := range []struct {
		name   string
		pushed bool
	}{{"pushed", true}, {"front channel", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			par := &recordingPAR{PARStore: e.eph.PAR}
			sessions := &recordingSessions{AuthzSessionStore: e.eph.AuthzSessions}
			e.svc.PAR, e.svc.Sessions = par, sessions
			var q string
			if tc.pushed {
				uri, _, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "par", "state", "pushed",
					"client_secret", sec, "client_assertion", asrt, "client_assertion_type", oauth.ClientAssertionTypeJWTBearer))
				if err != nil {
					t.Fatal(err)
				}
				if len(par.created) != 1 {
					t.Fatalf("%d pushed requests stored, want 1", len(par.created))
				}
				check(t, "the stored pushed request", par.created[0].Params)
				q = url.Values{"client_id": {"par"}, "request_uri": {uri}}.Encode()
			} else {
				q = query("client_secret", sec, "client_assertion", asrt, "client_assertion_type", oauth.ClientAssertionTypeJWTBearer)
			}
			m := e.start(q, "")
			if m.Type != TypeAuth {
				t.Fatalf("Start = %+v, want an auth prompt", m)
			}
			if len(sessions.created) != 1 {
				t.Fatalf("%d authorisation sessions stored, want 1", len(sessions.created))
			}
			check(t, "the stored authorisation session", sessions.created[0].Request.Params)
			obj, err := e.svc.Get(context.Background(), m.SID)
			if err != nil {
				t.Fatal(err)
			}
			check(t, "auth_req.params of the session API", obj.AuthReq.Params)
		})
	}
}

// TestPushedRequestReusedBeforeCompletion: a request_uri may start a
// second session while the first is open (a reload; RFC 9126 §4, FAPI 2.0
// par-ensure-reused-request-uri-prior-to-auth-completion-succeeds), but
// only one session completes: the other is refused at its final step, and
// after completion the request_uri starts nothing.
func TestPushedRequestReusedBeforeCompletion(t *testing.T) {
	e := newEnv(t, Config{})
	uri, _, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "par", "state", "pushed"))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {"par"}, "request_uri": {uri}}.Encode()
	first, second := e.start(q, ""), e.start(q, "")
	if first.Type != TypeAuth || second.Type != TypeAuth {
		t.Fatalf("starts = %+v, %+v; want two auth prompts", first, second)
	}
	m := e.submit(e.submit(second.SID, authAlice).SID, consentAll_)
	if _, v := params(t, m); v.Get("code") == "" || v.Get("state") != "pushed" {
		t.Fatalf("second session's response %v, want a code", v)
	}
	m = e.submit(e.submit(first.SID, authAlice).SID, consentAll_)
	if _, v := params(t, m); v.Get("error") != oauth.ErrCodeInvalidRequestURI || v.Has("code") {
		t.Errorf("first session after the second completed: %v, want invalid_request_uri", v)
	}
	if m := e.start(q, ""); m.Type != TypeError || m.Error != oauth.ErrCodeInvalidRequestURI {
		t.Errorf("start after completion = %+v, want invalid_request_uri", m)
	}
}

// TestPushedRequestCompletedOnce: sessions of one pushed request that
// finish at the same moment complete exactly once.
func TestPushedRequestCompletedOnce(t *testing.T) {
	e := newEnv(t, Config{})
	uri, _, err := e.svc.Push(context.Background(), e.client("par"), pushParams("client_id", "par"))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {"par"}, "request_uri": {uri}}.Encode()
	const n = 8
	sids := make([]string, n)
	for i := range sids {
		sids[i] = e.submit(e.start(q, "").SID, authAlice).SID
	}
	msgs := make([]*Message, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range sids {
		wg.Go(func() { msgs[i], errs[i] = submitJSON(context.Background(), e.svc, sids[i], consentAll_) })
	}
	wg.Wait()
	codes := 0
	for i, m := range msgs {
		if errs[i] != nil {
			t.Fatalf("session %d: %v", i, errs[i])
		}
		switch _, v := params(t, m); {
		case v.Get("code") != "":
			codes++
		case v.Get("error") != oauth.ErrCodeInvalidRequestURI:
			t.Errorf("session %d: %v, want a code or invalid_request_uri", i, v)
		}
	}
	if codes != 1 {
		t.Errorf("%d sessions got a code, want exactly 1", codes)
	}
}
