package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// loginViaAPI drives an authorisation request through the authorisation
// session API as a login UI would: start, authenticate sub, consent to
// everything. It returns the final redirect parameters and the subject
// session ID the UI would put in its cookie.
func (r *rp) loginViaAPI(authURL, sub, subSID string) (url.Values, string) {
	t := r.e.t
	t.Helper()
	start := map[string]any{"query": queryOf(t, authURL)}
	if subSID != "" {
		start["sub_sid"] = subSID
	}
	status, msg := r.e.authzSession(http.MethodPost, "", start)
	if status != http.StatusOK {
		t.Fatalf("start: status %d: %v", status, msg)
	}
	sid, _ := msg["sid"].(string)
	if msg["type"] == "auth" {
		status, msg = r.e.authzSession(http.MethodPut, "/"+sid, map[string]any{"sub": sub, "amr": []string{"pwd"}, "acr": "1"})
		if status != http.StatusOK {
			t.Fatalf("submit auth: status %d: %v", status, msg)
		}
	}
	if msg["type"] == "consent" {
		status, msg = r.e.authzSession(http.MethodPut, "/"+sid, map[string]any{
			"scope": []string{"*"}, "claims": []string{"*"}, "long_lived": true,
			"refresh_token": map[string]any{"issue": true},
		})
		if status != http.StatusOK {
			t.Fatalf("submit consent: status %d: %v", status, msg)
		}
	}
	newSID, _ := msg["sub_sid"].(string)
	if newSID == "" {
		newSID = subSID
	}
	return redirectParams(t, msg), newSID
}

// TestCodeFlowWithRealRelyingParty is the full authorisation-code flow with
// PKCE through the authorisation session API, with go-oidc verifying the ID
// token, then UserInfo, then a refresh.
func TestCodeFlowWithRealRelyingParty(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	state, nonce, verifier := strings.Repeat("s", 1000), strings.Repeat("n", 384), oauth2.GenerateVerifier()
	authURL := r.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	if !strings.HasPrefix(authURL, e.issuer+"/login?") {
		t.Fatalf("authorization endpoint = %s, want the built-in login UI", authURL)
	}

	params, _ := r.loginViaAPI(authURL, "alice", "")
	if got := params.Get("state"); got != state {
		t.Fatalf("state not echoed: got %d chars", len(got))
	}
	if got := params.Get("iss"); got != e.issuer {
		t.Errorf("iss = %q, want %q (RFC 9207)", got, e.issuer)
	}
	code := params.Get("code")
	if len(code) < 22 {
		t.Errorf("code %q is shorter than 128 bits", code)
	}

	tok, err := r.conf.Exchange(r.ctx(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Expiry.IsZero() {
		t.Errorf("token response: type %q, refresh token present %v, expiry %v", tok.TokenType, tok.RefreshToken != "", tok.Expiry)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := r.verifier.Verify(r.ctx(), rawID)
	if err != nil {
		t.Fatalf("go-oidc rejected the ID token: %v", err)
	}
	if idToken.Subject != "alice" || idToken.Nonce != nonce {
		t.Errorf("ID token sub %q nonce ok %v", idToken.Subject, idToken.Nonce == nonce)
	}
	if err := idToken.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64    `json:"auth_time"`
		AZP      string   `json:"azp"`
		AMR      []string `json:"amr"`
		ACR      string   `json:"acr"`
		SID      string   `json:"sid"`
		Name     string   `json:"name"`
	}
	idToken.Claims(&claims)
	if claims.AuthTime == 0 || claims.AZP != r.clientID || !slices.Equal(claims.AMR, []string{"pwd"}) || claims.ACR != "1" || claims.SID == "" {
		t.Errorf("ID token claims = %+v", claims)
	}
	if claims.Name != "" {
		t.Errorf("ID token carries name %q although it was not requested for the ID token", claims.Name)
	}

	info, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var ui map[string]any
	info.Claims(&ui)
	if info.Subject != "alice" || ui["email"] != "alice@example.com" || ui["name"] == nil {
		t.Errorf("userinfo = %v", ui)
	}

	// Force a refresh by expiring the token locally.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := r.conf.TokenSource(r.ctx(), &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == tok.AccessToken {
		t.Error("refresh returned the same access token")
	}
	if _, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(refreshed)); err != nil {
		t.Errorf("userinfo with the refreshed token: %v", err)
	}
}

// TestSSOSkipsLoginForSecondClient: a second client's request with the
// subject session ID from the first login needs no authentication.
func TestSSOSkipsLoginForSecondClient(t *testing.T) {
	e := newEnv(t)
	r1, r2 := e.newRP(nil), e.newRP(nil)
	_, subSID := r1.loginViaAPI(r1.conf.AuthCodeURL("a", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "alice", "")
	if subSID == "" {
		t.Fatal("the first login returned no sub_sid")
	}
	status, msg := e.authzSession(http.MethodPost, "", map[string]any{
		"query":   queryOf(t, r2.conf.AuthCodeURL("b", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
		"sub_sid": subSID,
	})
	if status != http.StatusOK || msg["type"] != "consent" {
		t.Fatalf("second client with a session: status %d type %v, want consent (no auth prompt): %v", status, msg["type"], msg)
	}
}
