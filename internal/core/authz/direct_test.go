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

// FuzzDecodeDirect drives arbitrary bodies through the decoder and, when
// they decode, through Direct: never a panic, every refusal an HTTP 400
// OAuth error whose description may travel in a response, never an
// internal error for anything a caller can send.
func FuzzDecodeDirect(f *testing.F) {
	for _, s := range []string{
		`{"client_id":"web","sub":"alice","scope":["openid","email","offline_access"],"claims":["*"]}`,
		`{"client_id":"web","sub_session":{"sub":"bob","amr":["fed"],"max_life":-1},"long_lived":true,"scope":["openid"]}`,
		`{"client_id":"pub","sub":"a","claims_transport":"ID_TOKEN","claims":["email"],"scope":["openid","email"],"refresh_token":{"issue":true,"rotate":false}}`,
		`{"client_id":"web","sub":"a","access_token":{"lifetime":1e99}}`,
		`{"client_id":"web","sub_sid":"x.y"}`,
		`{"client_id":"nobody","sub":"a"}`,
		`{"client_id":"web","sub":"a","id_token":{"issue":false},"preset_claims":{"id_token":{"iss":"evil"}}}`,
		`{"client_id":"web","sub":"a","access_token":{"AccessTokenSpec":{}}}`,
		`[`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, Config{})
	e.withTokens()
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeDirect(body)
		if err == nil {
			var resp *DirectResponse
			resp, err = e.svc.Direct(context.Background(), r)
			if err == nil {
				if resp.AccessToken == "" || resp.TokenType != oauth.TokenTypeBearer {
					t.Fatalf("success without an access token: %+v", resp)
				}
				return
			}
		}
		oe := oauth.AsError(err)
		if oe == nil || oe.Status != 400 || oe.Code == oauth.ErrCodeServerError {
			t.Fatalf("body %q: error %v, want an HTTP 400 OAuth error", body, err)
		}
		if !oauth.ValidErrorCode(oe.Description) {
			t.Fatalf("error_description %q has characters RFC 6749 forbids", oe.Description)
		}
	})
}
