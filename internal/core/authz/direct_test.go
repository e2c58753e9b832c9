package authz

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// withTokens gives the env's service a token core on the same stores.
func (e *env) withTokens() {
	e.svc.Tokens = &token.Service{
		Config:  token.Config{Issuer: issuer},
		Clients: e.dur.Clients, Codes: e.eph.Codes, Grants: e.dur.Grants,
		RefreshTokens: e.dur.RefreshTokens, AccessTokens: e.dur.AccessTokens,
		Replay: e.eph.Replay, Keys: e.keys, Now: e.clock.Now,
	}
}

func (e *env) direct(body string) (*DirectResponse, error) {
	e.t.Helper()
	r, err := DecodeDirect([]byte(body))
	if err != nil {
		return nil, err
	}
	return e.svc.Direct(context.Background(), r)
}

// TestDirectRefusalLeavesNothing: a request refused after decoding (an
// unknown client, an auth_time in the future) creates neither the subject
// session nor the long-lived authorisation it asked for.
func TestDirectRefusalLeavesNothing(t *testing.T) {
	e := newEnv(t, Config{})
	e.withTokens()
	future := e.clock.Now().Unix() + 3600
	for name, body := range map[string]string{
		"unknown client":   `{"client_id":"nobody","sub_session":{"sub":"zed"},"scope":["openid"],"long_lived":true}`,
		"future auth_time": `{"client_id":"web","sub_session":{"sub":"zed","auth_time":` + strconv.FormatInt(future, 10) + `},"scope":["openid"],"long_lived":true}`,
	} {
		_, err := e.direct(body)
		if oe := oauth.AsError(err); oe == nil || oe.Status != 400 {
			t.Errorf("%s: err %v, want an HTTP 400 OAuth error", name, err)
		}
	}
	live, err := e.eph.SubjectSessions.ListBySubject(context.Background(), "zed", e.clock.Now())
	if err != nil || len(live) != 0 {
		t.Errorf("subject sessions left behind: %d (%v)", len(live), err)
	}
	if _, err := e.dur.Authorizations.Get(context.Background(), "zed", "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("long-lived authorisation left behind: %v", err)
	}
}

// TestDirectUsesTheConsentPath: a long-lived direct authorisation is the
// consent a login would have stored, so a following authorisation request
// with its session is answered at once, without an auth or consent prompt.
func TestDirectUsesTheConsentPath(t *testing.T) {
	e := newEnv(t, Config{})
	e.withTokens()
	resp, err := e.direct(`{"client_id":"web","sub_session":{"sub":"alice"},"scope":["openid","email"],"claims":["*"],"long_lived":true}`)
	if err != nil {
		t.Fatal(err)
	}
	if resp.SubSID == "" || resp.IDToken == "" || resp.AccessToken == "" {
		t.Fatalf("response %+v", resp)
	}
	auth, err := e.dur.Authorizations.Get(context.Background(), "alice", "web")
	if err != nil {
		t.Fatalf("no long-lived authorisation: %v", err)
	}
	if !oauth.Scope(auth.Claims).Contains("email") || !oauth.Scope(auth.Scope).Contains("email") {
		t.Errorf("stored authorisation scope %v claims %v, want email in both (claims * = the scope's claims)", auth.Scope, auth.Claims)
	}
	msg := e.start(query("scope", "openid email"), resp.SubSID)
	if msg.Type != TypeResponse {
		t.Fatalf("start with the direct session: type %q, want response", msg.Type)
	}
}
