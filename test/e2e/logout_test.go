package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/server"
)

const sessionStore = "/session-store/rest/v2"

// bcReceiver is a relying party's back-channel logout endpoint: a real
// HTTP server that hands every logout token it receives to the test.
type bcReceiver struct {
	srv    *httptest.Server
	tokens chan string
	// hold, when set, blocks every request until it is closed: a slow
	// relying party.
	hold chan struct{}
}

func newReceiver(t *testing.T) *bcReceiver {
	r := &bcReceiver{tokens: make(chan string, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.hold != nil {
			<-r.hold
		}
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := req.ParseForm(); err != nil || len(req.PostForm["logout_token"]) != 1 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		r.tokens <- req.PostForm.Get("logout_token")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *bcReceiver) uri() string { return r.srv.URL + "/backchannel-logout" }

// next waits for the next logout token; the bound only stops a broken
// test from hanging, it asserts nothing about speed.
func (r *bcReceiver) next(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-r.tokens:
		return tok
	case <-time.After(30 * time.Second):
		t.Fatal("no back-channel logout token arrived")
		return ""
	}
}

// logoutRP registers an RP with a back-channel endpoint, a front-channel
// URI and a post-logout redirect URI.
func (e *env) logoutRP(rcv *bcReceiver, extra map[string]any) *rp {
	md := map[string]any{
		"backchannel_logout_uri":               rcv.uri(),
		"backchannel_logout_session_required":  true,
		"frontchannel_logout_uri":              rcv.srv.URL + "/frontchannel-logout?app=1",
		"frontchannel_logout_session_required": true,
		"post_logout_redirect_uris":            []string{rcv.srv.URL + "/bye"},
	}
	for k, v := range extra {
		md[k] = v
	}
	return e.newRP(md)
}

// signIn logs sub in to r (scopes as given) through the authorisation
// session API, redeems the code and returns the tokens and the session
// cookie value.
func (r *rp) signIn(sub, subSID string, scopes ...string) (*oauth2.Token, string) {
	t := r.e.t
	t.Helper()
	conf := *r.conf
	conf.Scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	verifier := oauth2.GenerateVerifier()
	params, sid := r.loginViaAPI(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), sub, subSID)
	tok, err := conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return tok, sid
}

// idTokenSID returns the sid claim of the token's ID token, verified by
// go-oidc.
func (r *rp) idTokenSID(tok *oauth2.Token) string {
	r.e.t.Helper()
	idt, err := r.verifier.Verify(r.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		r.e.t.Fatalf("ID token: %v", err)
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&c); err != nil || c.SID == "" {
		r.e.t.Fatalf("ID token without sid: %v", err)
	}
	return c.SID
}

// sessions calls the session store API.
func (e *env) sessions(method, query, sid, contentType, body string) (int, []byte) {
	e.t.Helper()
	target := e.issuer + sessionStore + "/sessions"
	if strings.HasPrefix(query, "/") {
		target = e.issuer + sessionStore + query
	} else if query != "" {
		target += "?" + query
	}
	req, _ := http.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	if sid != "" {
		req.Header.Set("SID", sid)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		e.t.Fatalf("%s %s: %d %s", method, target, resp.StatusCode, raw)
	}
	return resp.StatusCode, raw
}

// logoutAPI calls the logout session API.
func (e *env) logoutAPI(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.issuer+"/logout-sessions/rest/v1"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	req.Header.Set("Content-Type", "application/json")
	return e.doJSON(req)
}

// checkLogoutToken verifies a logout token against the node's /jwks.json
// and its claims (Back-Channel Logout 1.0 §2.4, §2.6).
func checkLogoutToken(t *testing.T, e *env, r *rp, tok, wantSub, wantSID string) {
	t.Helper()
	keys := oidc.NewRemoteKeySet(r.ctx(), e.issuer+"/jwks.json")
	payload, err := keys.VerifySignature(r.ctx(), tok)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	head, _, _ := strings.Cut(tok, ".")
	rawHead, _ := base64.RawURLEncoding.DecodeString(head)
	var h struct {
		Typ string `json:"typ"`
	}
	json.Unmarshal(rawHead, &h)
	if h.Typ != "logout+jwt" {
		t.Errorf("typ = %q, want logout+jwt", h.Typ)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	if c["iss"] != e.issuer || c["sub"] != wantSub || c["sid"] != wantSID {
		t.Errorf("iss, sub, sid = %v, %v, %v; want %s, %s, %s", c["iss"], c["sub"], c["sid"], e.issuer, wantSub, wantSID)
	}
	if aud, _ := c["aud"].([]any); len(aud) != 1 || aud[0] != r.clientID {
		t.Errorf("aud = %v, want [%s]", c["aud"], r.clientID)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if iat == 0 || exp <= iat || exp-iat > 600 {
		t.Errorf("iat %v, exp %v", c["iat"], c["exp"])
	}
	if jti, _ := c["jti"].(string); len(jti) < 16 {
		t.Errorf("jti = %v", c["jti"])
	}
	ev, _ := c["events"].(map[string]any)
	if _, ok := ev["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(ev) != 1 {
		t.Errorf("events = %v", c["events"])
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token carries a nonce (§2.4: MUST NOT)")
	}
}

// promptNone starts a prompt=none request under subSID and returns the
// error of the final response.
func (r *rp) promptNone(subSID string) string {
	t := r.e.t
	t.Helper()
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none"))
	status, msg := r.e.authzSession(http.MethodPost, "", map[string]any{"query": queryOf(t, authURL), "sub_sid": subSID})
	if status != http.StatusOK {
		t.Fatalf("start: %d %v", status, msg)
	}
	if msg["type"] != "response" {
		return "type " + msg["type"].(string)
	}
	p := redirectParams(t, msg)
	if p.Get("code") != "" {
		return "code"
	}
	return p.Get("error")
}

// TestSessionStoreDeleteNotifies is the "done when" of the issue: a login
// page written for Connect2id deletes the session with the SID header;
// the session is gone (GET 404, prompt=none login_required), the relying
// party receives a verifiable back-channel logout token whose sid is the
// ID token's, and the session's online refresh token is revoked while an
// offline_access one survives. On both store set-ups.
func TestSessionStoreDeleteNotifies(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.opt(t))
			rcv := newReceiver(t)
			r := e.logoutRP(rcv, nil)
			online, subSID := r.signIn("alice", "", "profile")
			offline, again := r.signIn("alice", subSID, "profile", "offline_access")
			if again != subSID {
				t.Fatalf("SSO made a new session")
			}
			wantSID := r.idTokenSID(online)
			if r.idTokenSID(offline) != wantSID {
				t.Error("two ID tokens of one session have different sid")
			}

			status, raw := e.sessions(http.MethodGet, "", subSID, "", "")
			var view map[string]any
			json.Unmarshal(raw, &view)
			if status != 200 || view["sub"] != "alice" || !slices.Contains(anyStrings(view["rps"]), r.clientID) {
				t.Fatalf("GET session: %d %s", status, raw)
			}
			if status, raw = e.sessions(http.MethodDelete, "", subSID, "", ""); status != 200 {
				t.Fatalf("DELETE session: %d %s", status, raw)
			}
			if status, _ = e.sessions(http.MethodGet, "", subSID, "", ""); status != 404 {
				t.Errorf("GET after DELETE: %d, want 404", status)
			}
			if status, _ = e.sessions(http.MethodDelete, "", subSID, "", ""); status != 404 {
				t.Errorf("DELETE again: %d, want 404", status)
			}
			checkLogoutToken(t, e, r, rcv.next(t), "alice", wantSID)
			if got := r.promptNone(subSID); got != "login_required" {
				t.Errorf("prompt=none after the session was deleted: %s, want login_required", got)
			}
			if status, body := r.refresh(online.RefreshToken); status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("online refresh token after logout: %d %v, want invalid_grant", status, body)
			}
			if e.userInfoStatus(online.AccessToken) != 401 {
				t.Error("the online access token still works after logout")
			}
			if status, body := r.refresh(offline.RefreshToken); status != 200 {
				t.Errorf("offline_access refresh token after logout: %d %v, want it kept (logout.revoke_tokens=online)", status, body)
			}
		})
	}
}

// TestSessionStoreAPI: listing, updating, auth life and deleting all of a
// subject's sessions, each ended session notified.
func TestSessionStoreAPI(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	_, sid1 := r.signIn("carol", "")
	_, sid2 := r.signIn("carol", "")
	status, raw := e.sessions(http.MethodGet, "subject=carol&ids=true", "", "", "")
	var ids []string
	json.Unmarshal(raw, &ids)
	if status != 200 || !slices.Equal(ids, []string{sid1, sid2}) {
		t.Fatalf("ids: %d %s", status, raw)
	}
	status, raw = e.sessions(http.MethodGet, "subject=carol", "", "", "")
	var byID map[string]map[string]any
	json.Unmarshal(raw, &byID)
	if status != 200 || len(byID) != 2 || byID[sid1]["sub"] != "carol" {
		t.Fatalf("list: %d %s", status, raw)
	}

	// Round trip: GET, change data and max_idle, PUT.
	_, raw = e.sessions(http.MethodGet, "skip_last_used_update=true", sid1, "", "")
	var sess map[string]any
	json.Unmarshal(raw, &sess)
	sess["data"] = map[string]any{"theme": "dark"}
	sess["max_idle"] = 60
	b, _ := json.Marshal(sess)
	status, raw = e.sessions(http.MethodPut, "", sid1, "application/json", string(b))
	var updated map[string]any
	json.Unmarshal(raw, &updated)
	if status != 200 || updated["max_idle"] != float64(60) || updated["data"].(map[string]any)["theme"] != "dark" {
		t.Fatalf("PUT: %d %s", status, raw)
	}
	if status, raw = e.sessions(http.MethodPut, "/sessions/subject-auth-life", sid1, "application/json", `{"auth_life": 5}`); status != 204 {
		t.Fatalf("subject-auth-life: %d %s", status, raw)
	}
	_, raw = e.sessions(http.MethodGet, "", sid1, "", "")
	json.Unmarshal(raw, &sess)
	if sess["auth_life"] != float64(5) {
		t.Errorf("auth_life after subject-auth-life = %v", sess["auth_life"])
	}

	status, raw = e.sessions(http.MethodDelete, "subject=carol", "", "", "")
	var ended map[string]any
	json.Unmarshal(raw, &ended)
	if status != 200 || len(ended) != 2 {
		t.Fatalf("DELETE subject: %d %s", status, raw)
	}
	rcv.next(t)
	rcv.next(t)
	if status, raw = e.sessions(http.MethodGet, "subject=carol&ids=true", "", "", ""); status != 200 || string(raw) != "[]" {
		t.Errorf("after DELETE subject: %d %s", status, raw)
	}
	if status, _ = e.sessions(http.MethodDelete, "subject=carol&quiet=true", "", "", ""); status != 204 {
		t.Errorf("quiet DELETE: %d, want 204", status)
	}
}

// TestSessionStoreErrors: every client-triggerable error of the session
// store API is a 4xx with the right code, never a 5xx.
func TestSessionStoreErrors(t *testing.T) {
	e := newEnv(t)
	r := e.newRP(nil)
	_, sid := r.signIn("dave", "")
	key, _, _ := strings.Cut(sid, ".")
	for _, tc := range []struct {
		name                   string
		method, query, sid, ct string
		body                   string
		noToken                bool
		wantStatus             int
		wantError              string
	}{
		{name: "no token", method: "GET", sid: sid, noToken: true, wantStatus: 401, wantError: "invalid_token"},
		{name: "no SID nor subject", method: "GET", wantStatus: 400, wantError: "invalid_request"},
		{name: "forged SID", method: "GET", sid: key + ".AAAA", wantStatus: 404, wantError: "not_found"},
		{name: "key only", method: "GET", sid: key, wantStatus: 404, wantError: "not_found"},
		{name: "unknown parameter", method: "GET", query: "subject=dave&limit=5", wantStatus: 400, wantError: "invalid_request"},
		{name: "bad boolean", method: "GET", query: "skip_last_used_update=yes", sid: sid, wantStatus: 400, wantError: "invalid_request"},
		{name: "malformed query", method: "GET", query: "subject=%zz", wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT no SID", method: "PUT", ct: "application/json", body: `{"data":{}}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT not JSON", method: "PUT", sid: sid, ct: "text/plain", body: `x`, wantStatus: 415, wantError: "invalid_request"},
		{name: "PUT array", method: "PUT", sid: sid, ct: "application/json", body: `[]`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT unknown member", method: "PUT", sid: sid, ct: "application/json", body: `{"colour":"red"}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT change sub", method: "PUT", sid: sid, ct: "application/json", body: `{"sub":"mallory"}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT jkt", method: "PUT", sid: sid, ct: "application/json", body: `{"jkt":"x"}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT bad lifetime", method: "PUT", sid: sid, ct: "application/json", body: `{"max_idle":-5}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT huge lifetime", method: "PUT", sid: sid, ct: "application/json", body: `{"max_life":1e300}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT data not object", method: "PUT", sid: sid, ct: "application/json", body: `{"data":[1]}`, wantStatus: 400, wantError: "invalid_request"},
		{name: "PUT forged SID", method: "PUT", sid: key + ".x", ct: "application/json", body: `{"data":{}}`, wantStatus: 404, wantError: "not_found"},
		{name: "DELETE forged SID", method: "DELETE", sid: key + ".x", wantStatus: 404, wantError: "not_found"},
		{name: "DELETE no SID nor subject", method: "DELETE", wantStatus: 400, wantError: "invalid_request"},
		{name: "auth life not a number", method: "PUT", query: "/sessions/subject-auth-life", sid: sid, ct: "application/json", body: `"x"`, wantStatus: 400, wantError: "invalid_request"},
		{name: "purge async", method: "POST", query: "/purge", ct: "application/x-www-form-urlencoded", body: "async=true", wantStatus: 400, wantError: "invalid_request"},
		{name: "purge unknown", method: "POST", query: "/purge", ct: "application/x-www-form-urlencoded", body: "everything=true", wantStatus: 400, wantError: "invalid_request"},
		{name: "purge not a form", method: "POST", query: "/purge", ct: "application/json", body: "{}", wantStatus: 400, wantError: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := e.issuer + sessionStore + "/sessions"
			if strings.HasPrefix(tc.query, "/") {
				target = e.issuer + sessionStore + tc.query
			} else if tc.query != "" {
				target += "?" + tc.query
			}
			req, _ := http.NewRequest(tc.method, target, strings.NewReader(tc.body))
			if !tc.noToken {
				req.Header.Set("Authorization", "Bearer "+e.apiToken)
			}
			if tc.sid != "" {
				req.Header.Set("SID", tc.sid)
			}
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			status, body := e.doJSON(req)
			wantOAuthError(t, status, body, tc.wantStatus, tc.wantError)
		})
	}
	// Methods no route serves: 405 from the router.
	for _, m := range []string{http.MethodPatch, http.MethodPost} {
		req, _ := http.NewRequest(m, e.issuer+sessionStore+"/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+e.apiToken)
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /sessions: %d, want 405", m, resp.StatusCode)
		}
	}
	if status, _ := e.sessions(http.MethodGet, "", sid, "", ""); status != 200 {
		t.Errorf("the session did not survive the bad requests: %d", status)
	}
}

// TestParallelDeletesNotifyOnce: many parallel deletes of one session (as
// from several nodes or a double click): one succeeds, and exactly one
// logout token is handed over for delivery.
func TestParallelDeletesNotifyOnce(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.opt(t))
			rcv := newReceiver(t)
			r := e.logoutRP(rcv, nil)
			_, sid := r.signIn("erin", "")
			before := e.srv.LogoutNotifications()["queued"]
			const n = 16
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { statuses[i], _ = e.sessions(http.MethodDelete, "", sid, "", "") })
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch s {
				case 200:
					ok++
				case 404:
				default:
					t.Errorf("parallel DELETE: %d", s)
				}
			}
			// Sends happen before the DELETE answers, so the count is final.
			if queued := e.srv.LogoutNotifications()["queued"] - before; ok != 1 || queued != 1 {
				t.Errorf("%d deletes succeeded and %d logout tokens were queued, want 1 and 1", ok, queued)
			}
			rcv.next(t)
		})
	}
}

// TestQuotaClosesOldest: with sessions.quota_per_subject 2, a third login
// closes the oldest session, whose relying party is notified.
func TestQuotaClosesOldest(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Sessions.QuotaPerSubject = 2 })
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	first, sid1 := r.signIn("frank", "")
	_, sid2 := r.signIn("frank", "")
	_, sid3 := r.signIn("frank", "")
	if status, _ := e.sessions(http.MethodGet, "", sid1, "", ""); status != 404 {
		t.Errorf("oldest session: %d, want 404", status)
	}
	for _, sid := range []string{sid2, sid3} {
		if status, _ := e.sessions(http.MethodGet, "", sid, "", ""); status != 200 {
			t.Errorf("newer session: %d, want 200", status)
		}
	}
	checkLogoutToken(t, e, r, rcv.next(t), "frank", r.idTokenSID(first))
}

// TestExpiryNotifies: a session that passed its idle time is taken by the
// purge (here forced through POST /purge) and its relying party notified.
func TestExpiryNotifies(t *testing.T) {
	clock := testclock.Wall()
	e := newEnvFull(t, server.Options{Now: clock.Now}, func(c *config.Config) {
		c.Sessions.MaxIdle = time.Hour
		c.Cluster.PurgeMargin = 0
	})
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	tok, sid := r.signIn("gina", "")
	wantSID := r.idTokenSID(tok)
	clock.Advance(2 * time.Hour)
	status, raw := e.sessions(http.MethodPost, "/purge", "", "application/x-www-form-urlencoded", "sessions=true")
	if status != 200 || string(raw) != `{"sessions":1}` {
		t.Fatalf("purge: %d %s", status, raw)
	}
	checkLogoutToken(t, e, r, rcv.next(t), "gina", wantSID)
	if status, _ := e.sessions(http.MethodGet, "", sid, "", ""); status != 404 {
		t.Errorf("expired session: %d", status)
	}
}

// TestSlowBackChannelDoesNotBlock: a relying party that does not answer
// does not hold up the logout: the DELETE returns while the relying
// party's endpoint is still blocked (the test would hang otherwise).
func TestSlowBackChannelDoesNotBlock(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	rcv.hold = make(chan struct{})
	r := e.logoutRP(rcv, nil)
	_, sid := r.signIn("hank", "")
	status, _ := e.sessions(http.MethodDelete, "", sid, "", "")
	close(rcv.hold)
	if status != 200 {
		t.Fatalf("DELETE: %d", status)
	}
	rcv.next(t)
}

// TestRPInitiatedLogout drives the logout session API as a logout page
// does: confirm, then end with front-channel URIs and the redirect with
// state; and every bad request is an error message that redirects nowhere.
func TestRPInitiatedLogout(t *testing.T) {
	clock := testclock.Wall()
	e := newEnvFull(t, server.Options{Now: clock.Now})
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	other := e.logoutRP(newReceiver(t), nil)
	tok, subSID := r.signIn("ivy", "")
	hint := tok.Extra("id_token").(string)
	plr := rcv.srv.URL + "/bye"

	// Bad requests first, while the session lives.
	head, payload, sig := splitJWS(hint)
	forged := head + "." + payload + "." + flipMiddle(sig)
	otherTok, _ := other.signIn("ivy", subSID)
	for name, tc := range map[string]struct {
		query    url.Values
		wantCode string
	}{
		"forged hint":                {url.Values{"id_token_hint": {forged}}, "invalid_id_token_hint"},
		"not a JWT":                  {url.Values{"id_token_hint": {"abc"}}, "invalid_id_token_hint"},
		"hint for another client":    {url.Values{"id_token_hint": {otherTok.Extra("id_token").(string)}, "client_id": {r.clientID}}, "invalid_id_token_hint"},
		"unregistered redirect":      {url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/"}}, "invalid_request"},
		"redirect without client":    {url.Values{"post_logout_redirect_uri": {plr}}, "invalid_request"},
		"unknown client":             {url.Values{"client_id": {"nobody"}}, "invalid_request"},
		"repeated parameter":         {url.Values{"state": {"a", "b"}}, "invalid_request"},
		"redirect of another client": {url.Values{"client_id": {other.clientID}, "post_logout_redirect_uri": {plr}}, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			status, msg := e.logoutAPI(http.MethodPost, "", map[string]any{"query": tc.query.Encode(), "sub_sid": subSID})
			if status != 200 || msg["type"] != "error" || msg["error"] != tc.wantCode || msg["post_logout_redirect_uri"] != nil {
				t.Errorf("got %d %v, want an error message %s without redirect", status, msg, tc.wantCode)
			}
		})
	}

	// An expired hint is accepted (RP-Initiated Logout 1.0 §2).
	clock.Advance(time.Hour)
	q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {plr}, "state": {"xyz 1"}}
	status, msg := e.logoutAPI(http.MethodPost, "", map[string]any{"query": q.Encode(), "sub_sid": subSID})
	if status != 200 || msg["type"] != "confirm" || msg["sid"] == "" || msg["id_token_hint_present"] != true {
		t.Fatalf("start: %d %v", status, msg)
	}
	if c, _ := msg["client"].(map[string]any); c["client_id"] != r.clientID {
		t.Errorf("confirm client = %v", msg["client"])
	}
	lsid := msg["sid"].(string)
	status, msg = e.logoutAPI(http.MethodPut, "/"+url.PathEscape(lsid), map[string]any{"op_logout": true})
	if status != 200 || msg["type"] != "end" || msg["sub_session_closed"] != true {
		t.Fatalf("confirm: %d %v", status, msg)
	}
	if got := msg["post_logout_redirect_uri"]; got != plr+"?state=xyz+1" {
		t.Errorf("post_logout_redirect_uri = %v", got)
	}
	front := anyStrings(msg["frontchannel_logout_uris"])
	wantSID := r.idTokenSID(tok)
	if len(front) != 2 {
		t.Fatalf("frontchannel_logout_uris = %v, want both clients'", front)
	}
	for _, f := range front {
		u, _ := url.Parse(f)
		if u.Query().Get("iss") != e.issuer || u.Query().Get("sid") != wantSID || u.Query().Get("app") != "1" {
			t.Errorf("front-channel URI %s lacks iss, sid or its own query", f)
		}
	}
	checkLogoutToken(t, e, r, rcv.next(t), "ivy", wantSID)
	if status, _ := e.sessions(http.MethodGet, "", subSID, "", ""); status != 404 {
		t.Errorf("session after logout: %d, want 404", status)
	}
	// Single use.
	if status, body := e.logoutAPI(http.MethodPut, "/"+url.PathEscape(lsid), map[string]any{"op_logout": true}); status != 404 {
		t.Errorf("second PUT: %d %v, want 404", status, body)
	}
	// Without a session: no confirmation, the redirect still allowed.
	status, msg = e.logoutAPI(http.MethodPost, "", map[string]any{"query": q.Encode(), "sub_sid": subSID})
	if status != 200 || msg["type"] != "end" || msg["sub_session_closed"] != false || msg["post_logout_redirect_uri"] == nil {
		t.Errorf("logout without a session: %d %v", status, msg)
	}
}

// TestRPOnlyLogout: the user stays signed in at the provider; only the
// asking client leaves the session and is notified.
func TestRPOnlyLogout(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	stay := e.newRP(nil)
	tok, subSID := r.signIn("jack", "")
	stay.signIn("jack", subSID)
	status, msg := e.logoutAPI(http.MethodPost, "", map[string]any{"query": "client_id=" + r.clientID, "sub_sid": subSID})
	if status != 200 || msg["type"] != "confirm" {
		t.Fatalf("start: %d %v", status, msg)
	}
	status, msg = e.logoutAPI(http.MethodPut, "/"+url.PathEscape(msg["sid"].(string)), map[string]any{"op_logout": false})
	if status != 200 || msg["type"] != "end" || msg["sub_session_closed"] != false || len(anyStrings(msg["frontchannel_logout_uris"])) != 1 {
		t.Fatalf("RP-only logout: %d %v", status, msg)
	}
	checkLogoutToken(t, e, r, rcv.next(t), "jack", r.idTokenSID(tok))
	_, raw := e.sessions(http.MethodGet, "", subSID, "", "")
	var view map[string]any
	json.Unmarshal(raw, &view)
	if rps := anyStrings(view["rps"]); slices.Contains(rps, r.clientID) || !slices.Contains(rps, stay.clientID) {
		t.Errorf("rps after RP-only logout = %v", rps)
	}
}

// TestLogoutSessionAPIErrors: the logout session API's client errors.
func TestLogoutSessionAPIErrors(t *testing.T) {
	e := newEnv(t)
	do := func(method, path, ct, body string, token bool) (int, map[string]any) {
		req, _ := http.NewRequest(method, e.issuer+"/logout-sessions/rest/v1"+path, strings.NewReader(body))
		if token {
			req.Header.Set("Authorization", "Bearer "+e.apiToken)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		return e.doJSON(req)
	}
	for _, tc := range []struct {
		name, method, path, ct, body string
		token                        bool
		wantStatus                   int
		wantError                    string
	}{
		{"no token", "POST", "", "application/json", `{"query":""}`, false, 401, "invalid_token"},
		{"not JSON", "POST", "", "text/plain", `x`, true, 415, "invalid_request"},
		{"unknown member", "POST", "", "application/json", `{"query":"","colour":1}`, true, 400, "invalid_request"},
		{"query not a string", "POST", "", "application/json", `{"query":5}`, true, 400, "invalid_request"},
		{"unknown session", "PUT", "/abc", "application/json", `{"op_logout":true}`, true, 404, "not_found"},
		{"decision not boolean", "PUT", "/abc", "application/json", `{"op_logout":"yes"}`, true, 400, "invalid_request"},
		{"decision unknown member", "PUT", "/abc", "application/json", `{"logout":true}`, true, 400, "invalid_request"},
		{"decisions disagree", "PUT", "/abc", "application/json", `{"op_logout":true,"confirm_logout":false}`, true, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := do(tc.method, tc.path, tc.ct, tc.body, tc.token)
			wantOAuthError(t, status, body, tc.wantStatus, tc.wantError)
		})
	}
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/logout-sessions/rest/v1/abc", nil)
	req.Header.Set("Authorization", "Bearer "+e.apiToken)
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET a logout session: %d, want 405", resp.StatusCode)
	}
}

// TestLogoutDiscoveryAndTokens: discovery advertises logout, and the
// session's own API tokens open their API and nothing else.
func TestLogoutDiscoveryAndTokens(t *testing.T) {
	const storeToken, logoutToken = "session-store-token-0123456789abcdef", "logout-sessions-token-0123456789abcd"
	e := newEnv(t, func(c *config.Config) {
		c.APITokens.SessionStore = []string{sha256hex(storeToken)}
		c.APITokens.LogoutSessions = []string{sha256hex(logoutToken)}
	})
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	_, doc := e.doJSON(req)
	if doc["end_session_endpoint"] != e.issuer+"/logout" || doc["backchannel_logout_supported"] != true ||
		doc["backchannel_logout_session_supported"] != true || doc["frontchannel_logout_supported"] != true ||
		doc["frontchannel_logout_session_supported"] != true {
		t.Errorf("discovery logout members: %v", doc)
	}
	call := func(path, token string) int {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := e.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := call(sessionStore+"/sessions?subject=x", storeToken); s != 200 {
		t.Errorf("session store token on its API: %d", s)
	}
	if s := call(sessionStore+"/sessions?subject=x", logoutToken); s != 401 {
		t.Errorf("logout token on the session store API: %d, want 401", s)
	}
	if s := call("/authz-store/rest/v3/subjects", storeToken); s != 401 {
		t.Errorf("session store token on the authorisation store API: %d, want 401", s)
	}
}

func splitJWS(tok string) (string, string, string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// flipMiddle changes a character in the middle of the encoded signature
// (not the last one: its low bits may be padding that decoders ignore).
func flipMiddle(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestLogoutPageCSRF: the reference logout page at /logout (served by the
// login UI through the logout session API) asks before it ends the
// session, refuses a confirmation without its CSRF token or from another
// site, and on confirmation clears the cookie, loads the front-channel
// URIs in frames its CSP allows, and sends the browser to the redirect.
func TestLogoutPageCSRF(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	r := e.logoutRP(rcv, nil)
	b := e.newBrowser()
	_, subSID := r.signIn("kate", "")
	u, _ := url.Parse(e.issuer)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "sid", Value: subSID, Path: "/"}})

	q := url.Values{"client_id": {r.clientID}, "post_logout_redirect_uri": {rcv.srv.URL + "/bye"}, "state": {"st-1"}}
	resp, page := b.get(e.issuer + "/logout?" + q.Encode())
	if resp.StatusCode != 200 || !strings.Contains(page, `value="logout"`) {
		t.Fatalf("GET /logout: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("confirmation page CSP %q", csp)
	}
	form := hiddenFields(page)
	if status, _ := e.sessions(http.MethodGet, "skip_last_used_update=true", subSID, "", ""); status != 200 {
		t.Fatal("showing the confirmation page ended the session")
	}

	// Without the CSRF token, and from another site: refused.
	if resp, _ := b.submit("/logout/confirm", url.Values{"sid": {form.Get("sid")}, "action": {"logout"}}); resp.StatusCode != 403 {
		t.Errorf("confirmation without CSRF token: %d, want 403", resp.StatusCode)
	}
	cross := url.Values{"sid": {form.Get("sid")}, "csrf": {form.Get("csrf")}, "action": {"logout"}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/logout/confirm", strings.NewReader(cross.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := b.do(req); resp.StatusCode != 403 {
		t.Errorf("cross-site confirmation: %d, want 403", resp.StatusCode)
	}
	if status, _ := e.sessions(http.MethodGet, "skip_last_used_update=true", subSID, "", ""); status != 200 {
		t.Fatal("a refused confirmation ended the session")
	}

	form.Set("action", "logout")
	resp, page = b.submit("/logout/confirm", form)
	if resp.StatusCode != 200 || !strings.Contains(page, `<iframe class="frontchannel"`) ||
		!strings.Contains(page, html.EscapeString(rcv.srv.URL+"/bye?state=st-1")) {
		t.Fatalf("end page: %d\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src "+rcv.srv.URL) || !strings.Contains(csp, "script-src 'nonce-") {
		t.Errorf("end page CSP %q lacks the frame origin or the script nonce", csp)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		if c.Name == "sid" && c.MaxAge < 0 {
			cleared = true
		}
	}
	if !cleared {
		t.Error("the end page did not clear the session cookie")
	}
	if status, _ := e.sessions(http.MethodGet, "", subSID, "", ""); status != 404 {
		t.Errorf("session after confirmed logout: %d", status)
	}
	rcv.next(t)
	// Replaying the confirmation: the logout session was single use.
	if resp, _ := b.submit("/logout/confirm", form); resp.StatusCode != 404 {
		t.Errorf("replayed confirmation: %d, want 404", resp.StatusCode)
	}

	// A forged hint: an error page that links nowhere.
	resp, page = b.get(e.issuer + "/logout?id_token_hint=a.b.c&post_logout_redirect_uri=" + url.QueryEscape(rcv.srv.URL+"/bye"))
	if resp.StatusCode != 400 || strings.Contains(page, rcv.srv.URL) || !strings.Contains(page, "invalid_id_token_hint") {
		t.Errorf("forged hint: %d\n%s", resp.StatusCode, page)
	}
}

// TestPairwiseLogout: a pairwise client (OIDC Core §8.1) knows the user by
// its pairwise sub, so its id_token_hint names that sub and its logout
// token must carry it too (Back-Channel Logout 1.0 §2.4: sub as in the ID
// token); a public client of the same session still gets the real one.
func TestPairwiseLogout(t *testing.T) {
	e := newEnv(t)
	rcv := newReceiver(t)
	pairwise := e.logoutRP(rcv, map[string]any{"subject_type": "pairwise"})
	publicRcv := newReceiver(t)
	public := e.logoutRP(publicRcv, nil)
	tok, subSID := pairwise.signIn("alice", "")
	public.signIn("alice", subSID)
	idt, err := pairwise.verifier.Verify(pairwise.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	if idt.Subject == "alice" || idt.Subject == "" {
		t.Fatalf("pairwise client got sub %q", idt.Subject)
	}
	q := url.Values{"id_token_hint": {tok.Extra("id_token").(string)}}
	status, msg := e.logoutAPI(http.MethodPost, "", map[string]any{"query": q.Encode(), "sub_sid": subSID})
	if status != 200 || msg["type"] != "confirm" {
		t.Fatalf("logout with the pairwise client's hint: %d %v, want a confirm prompt", status, msg)
	}
	if status, raw := e.sessions(http.MethodDelete, "", subSID, "", ""); status != 200 {
		t.Fatalf("DELETE session: %d %s", status, raw)
	}
	sid := pairwise.idTokenSID(tok)
	checkLogoutToken(t, e, pairwise, rcv.next(t), idt.Subject, sid)
	checkLogoutToken(t, e, public, publicRcv.next(t), "alice", sid)
}
