package e2e

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestPairwiseIDTokenHint: a pairwise client's ID tokens name a pairwise
// sub (OIDC Core §8.1), so its id_token_hint does too. The hint must still
// match the signed-in subject — silently with prompt=none, and when the
// login UI authenticates someone — and must not match anybody else.
func TestPairwiseIDTokenHint(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(map[string]any{"subject_type": "pairwise"})
	tok, aliceSID := r.signIn("alice", "")
	_, bobSID := r.signIn("bob", "")
	hint := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx(), hint)
	if err != nil || idt.Subject == "alice" {
		t.Fatalf("pairwise ID token: sub %q, %v", idt.Subject, err)
	}
	withHint := func(prompt string) string {
		return r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
			oauth2.SetAuthURLParam("prompt", prompt), oauth2.SetAuthURLParam("id_token_hint", hint),
			oauth2.SetAuthURLParam("scope", "openid"))
	}
	silent := func(subSID string) string {
		t.Helper()
		status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, withHint("none")), "sub_sid": subSID})
		if status != http.StatusOK || msg["type"] != "response" {
			t.Fatalf("start: %d %v", status, msg)
		}
		p := redirectParams(t, msg)
		if p.Get("code") != "" {
			return "code"
		}
		return p.Get("error")
	}
	if got := silent(aliceSID); got != "code" {
		t.Errorf("prompt=none with alice's pairwise hint in alice's session: %s, want a code", got)
	}
	if got := silent(bobSID); got != "login_required" {
		t.Errorf("prompt=none with alice's hint in bob's session: %s, want login_required", got)
	}

	status, msg := e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, withHint("login"))})
	if status != http.StatusOK || msg["type"] != "auth" {
		t.Fatalf("start with prompt=login: %d %v", status, msg)
	}
	if msg["required_sub"] != nil {
		t.Errorf("auth prompt names required_sub %v: a pairwise sub means nothing to the login UI", msg["required_sub"])
	}
	if params, _ := r.loginViaAPI(withHint("login"), "bob", ""); params.Get("error") != "login_required" {
		t.Errorf("bob authenticated against alice's hint: %v, want login_required", params)
	}
	if params, _ := r.loginViaAPI(withHint("login"), "alice", ""); params.Get("code") == "" {
		t.Errorf("alice authenticated against her own pairwise hint: %v, want a code", params)
	}
}
