package token

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func (e *env) frontGrant(id string, spec store.TokenSpec) *store.Grant {
	return &store.Grant{
		ID: id, Subject: "alice", ClientID: "basic", Tokens: spec,
		Consented: store.Consented{Scope: []string{"openid", "email"}, Claims: []string{"email"}},
	}
}

func (e *env) client(id string) *store.Client {
	e.t.Helper()
	c, err := e.st.Clients.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// An access token from the authorisation endpoint follows the token
// endpoint's encoding and lifetime, is known to UserInfo through its stored
// grant, and comes without a refresh token even when the consent asked for
// one (RFC 6749 §4.2.2).
func TestIssueFrontChannelAccessToken(t *testing.T) {
	for _, enc := range []string{oauth.TokenEncodingIdentifier, oauth.TokenEncodingSelfContained} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t)
			spec := store.TokenSpec{AccessTokenEncoding: enc, AccessTokenLifetime: 120 * time.Second, IssueRefreshToken: true}
			g := e.frontGrant("g-front", spec)
			resp, err := e.svc.IssueFrontChannel(context.Background(), e.client("basic"), g,
				FrontChannel{AccessToken: true, IDToken: true, Nonce: "n-1", Code: "the-code"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.RefreshToken != "" || resp.ExpiresIn != 120 || resp.TokenType != oauth.TokenTypeBearer || resp.IDToken == "" {
				t.Fatalf("response %+v", resp)
			}
			stored, err := e.st.Grants.Get(context.Background(), "g-front", e.now)
			if err != nil || stored.Tokens.IssueRefreshToken || !stored.ExpiresAt.Equal(e.now.Add(120*time.Second)) {
				t.Fatalf("stored grant %+v (%v), want one expiring with the access token and no refresh token", stored, err)
			}
			ui, err := e.svc.UserInfo(context.Background(), resp.AccessToken)
			if err != nil || ui["sub"] != "alice" || ui["email"] != "alice@example.com" {
				t.Errorf("UserInfo: %v %v", ui, err)
			}
			idt := e.idTokenClaims(resp.IDToken)
			want := map[string]string{"nonce": "n-1"}
			if h, _ := halfHash(oauth.AlgRS256, resp.AccessToken); idt["at_hash"] != h {
				t.Errorf("at_hash %v, want %s", idt["at_hash"], h)
			}
			if h, _ := halfHash(oauth.AlgRS256, "the-code"); idt["c_hash"] != h {
				t.Errorf("c_hash %v, want %s", idt["c_hash"], h)
			}
			for k, v := range want {
				if idt[k] != v {
					t.Errorf("%s = %v, want %s", k, idt[k], v)
				}
			}
			// The UserInfo claim stays at UserInfo (OIDC Core §5.4).
			if _, ok := idt["email"]; ok {
				t.Errorf("email in the ID token although an access token was issued")
			}
		})
	}
}

// An ID token alone stores nothing and has neither at_hash nor c_hash; the
// claims the caller marked for it are in it.
func TestIssueFrontChannelIDTokenOnly(t *testing.T) {
	e := newEnv(t)
	g := e.frontGrant("", store.TokenSpec{})
	g.Claims = []string{"id_token:email"}
	resp, err := e.svc.IssueFrontChannel(context.Background(), e.client("basic"), g, FrontChannel{IDToken: true, Nonce: "n-2"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.AccessToken != "" || resp.RefreshToken != "" {
		t.Fatalf("response %+v, want only an ID token", resp)
	}
	idt := e.idTokenClaims(resp.IDToken)
	if idt["nonce"] != "n-2" || idt["email"] != "alice@example.com" || idt["at_hash"] != nil || idt["c_hash"] != nil {
		t.Errorf("ID token claims %v", idt)
	}
	if gs, err := e.st.Grants.List(context.Background(), store.GrantFilter{Subject: "alice"}, e.now); err != nil || len(gs) != 0 {
		t.Errorf("grants stored: %d (%v), want none", len(gs), err)
	}
}

func TestIssueFrontChannelRefusesIncompleteInput(t *testing.T) {
	e := newEnv(t)
	c := e.client("basic")
	for name, tc := range map[string]struct {
		g  *store.Grant
		fc FrontChannel
	}{
		"nothing asked":           {e.frontGrant("g", store.TokenSpec{}), FrontChannel{}},
		"access token without id": {e.frontGrant("", store.TokenSpec{}), FrontChannel{AccessToken: true}},
		"grant of another client": {&store.Grant{ID: "g", Subject: "alice", ClientID: "post"}, FrontChannel{IDToken: true}},
		"grant without subject":   {&store.Grant{ID: "g", ClientID: "basic"}, FrontChannel{IDToken: true}},
		"no grant":                {nil, FrontChannel{IDToken: true}},
	} {
		if _, err := e.svc.IssueFrontChannel(context.Background(), c, tc.g, tc.fc); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func (e *env) idTokenClaims(raw string) map[string]any {
	e.t.Helper()
	payload, err := e.keys.Verify(raw, []string{oauth.AlgRS256})
	if err != nil {
		e.t.Fatalf("ID token: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}
