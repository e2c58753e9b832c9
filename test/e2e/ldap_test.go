package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testldap"
)

// ldapEnv starts a node whose only claims source is a real slapd, with the
// reference UI and the password grant checking passwords against it.
func ldapEnv(t *testing.T, onError ...string) (*env, *testldap.Server) {
	t.Helper()
	dir := testldap.Start(t)
	e := newEnv(t, func(c *config.Config) {
		c.Claims.Sources = []config.ClaimsSource{{
			Type: "ldap", ID: "corp", URL: dir.URL, StartTLS: true, CAFile: dir.CAFile,
			BindDN: testldap.BindDN, BindPassword: testldap.BindPassword,
			BaseDN: testldap.PeopleDN, Filter: "(uid={sub})",
			Claims: map[string]string{
				"name": "cn", "given_name": "givenName", "family_name": "sn", "email": "mail",
				"email_verified": "emailVerified", "phone_number": "telephoneNumber",
				"address.locality": "l", "address.postal_code": "postalCode",
			},
		}}
		if len(onError) > 0 {
			c.Claims.Sources[0].OnError = onError[0]
		}
		c.Login.Directory = "corp"
		c.Grants.Password.Handler = "ldap"
	})
	return e, dir
}

// TestLDAPLoginAndUserInfo: a sign-in through the reference login UI is
// checked by binding to the directory as the user; the ID token and
// UserInfo carry the directory's claims; the demo users file is not
// consulted.
func TestLDAPLoginAndUserInfo(t *testing.T) {
	e, dir := ldapEnv(t)
	r := e.newRP(nil)
	b := e.newBrowser()
	verifier := oauth2.GenerateVerifier()
	resp, page := b.get(r.conf.AuthCodeURL("st", oidc.Nonce("n"), oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) {
		t.Fatalf("GET /login: status %d", resp.StatusCode)
	}
	signIn := func(page, user, pass string) (*http.Response, string) {
		form := hiddenFields(page)
		form.Set("username", user)
		form.Set("password", pass)
		return b.submit("/login/authenticate", form)
	}
	// The demo user's password, a filter injection and an empty password
	// are all refused by the directory.
	for _, cred := range [][2]string{{"alice", "alice-password"}, {"*", testldap.AlicePassword}, {"*)(uid=*", testldap.AlicePassword}, {"alice", ""}} {
		resp, page = signIn(page, cred[0], cred[1])
		if resp.StatusCode == http.StatusSeeOther || !strings.Contains(page, `name="password"`) {
			t.Fatalf("sign-in as %q with %q: status %d, want the form again", cred[0], cred[1], resp.StatusCode)
		}
	}
	// With the directory down the UI asks to try again rather than
	// calling the password wrong.
	dir.Stop()
	resp, down := signIn(page, "alice", testldap.AlicePassword)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(down, "try again") || strings.Contains(down, "incorrect") {
		t.Fatalf("sign-in with the directory down: status %d:\n%s", resp.StatusCode, down)
	}
	dir.Restart()
	resp, _ = signIn(page, "alice", testldap.AlicePassword)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with the directory password: status %d, want 303", resp.StatusCode)
	}
	resp, page = b.follow(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `value="allow"`) {
		t.Fatalf("consent page: status %d", resp.StatusCode)
	}
	consent := hiddenFields(page)
	consent.Set("action", "allow")
	resp, _ = b.submit("/login/consent", consent)
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("after consent: status %d location %v", resp.StatusCode, loc)
	}
	tok, err := r.conf.Exchange(r.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(r.ctx(), tok.Extra("id_token").(string))
	if err != nil || idt.Subject != "alice" {
		t.Fatalf("ID token: %v %v", idt, err)
	}
	ui, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := ui.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	// The demo users file has alice@example.com; the directory
	// alice@example.org.
	if claims["sub"] != "alice" || claims["email"] != "alice@example.org" || claims["email_verified"] != true ||
		claims["name"] != "Alice Adams" || claims["family_name"] != "Adams" {
		t.Errorf("userinfo = %v", claims)
	}
}

// TestLDAPPasswordGrantAndReadiness: grants.password.handler ldap, and the
// directory's health in the readiness check.
//
// Readiness follows the directory only under on_error: fail (an omit
// source must not take every node out of the load balancer at once).
func TestLDAPPasswordGrantAndReadiness(t *testing.T) {
	e, dir := ldapEnv(t, "fail")
	status, reg := e.registerClient(map[string]any{
		"grant_types": []string{"password"}, "response_types": []string{}, "scope": "openid email",
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	grant := func(user, pass string) (int, map[string]any) {
		st, body, _ := e.postForm("/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid email"}}, id, sec)
		return st, body
	}
	st, body := grant("bob", testldap.BobPassword)
	if st != 200 || body["id_token"] == nil {
		t.Fatalf("password grant: %d %v", st, body)
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	if st, ui := e.doJSON(req); st != 200 || ui["email"] != "bob@example.org" || ui["email_verified"] != false {
		t.Errorf("userinfo: %d %v", st, ui)
	}
	for _, cred := range [][2]string{{"bob", "bob-password"}, {"bob", ""}, {"nobody", testldap.BobPassword}, {"*", testldap.BobPassword}} {
		if st, body := grant(cred[0], cred[1]); st != 400 || body["error"] != "invalid_grant" {
			t.Errorf("grant as %q with %q: %d %v, want invalid_grant", cred[0], cred[1], st, body)
		}
	}

	ping := func() int {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/monitor/v1/ping", nil)
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		st, _ := e.doStatus(req)
		return st
	}
	if st := ping(); st != 200 {
		t.Fatalf("ping: %d", st)
	}
	dir.Stop()
	if st := ping(); st != http.StatusServiceUnavailable {
		t.Errorf("ping with the directory down: %d, want 503", st)
	}
	// A directory outage is not a wrong password: temporarily_unavailable.
	if st, body := grant("bob", testldap.BobPassword); st != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("grant with the directory down: %d %v, want 503 temporarily_unavailable", st, body)
	}
	dir.Restart()
	if st := ping(); st != 200 {
		t.Errorf("ping after the directory restarted: %d", st)
	}
	if st, body := grant("bob", testldap.BobPassword); st != 200 {
		t.Errorf("grant after the directory restarted: %d %v", st, body)
	}
}
