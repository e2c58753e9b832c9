package authz

import (
	"context"
	"net/url"
	"strings"
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
