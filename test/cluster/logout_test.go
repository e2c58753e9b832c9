package cluster

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// receiver is a relying party's back-channel logout endpoint that the
// nodes (separate processes) POST to; it records the sid of every logout
// token it gets.
type receiver struct {
	srv  *httptest.Server
	sids chan string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{sids: make(chan string, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		req.ParseForm()
		tok := req.PostForm.Get("logout_token")
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			w.WriteHeader(400)
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var c struct {
			SID string `json:"sid"`
		}
		json.Unmarshal(raw, &c)
		r.sids <- c.SID
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// next waits for the next logout token's sid; the deadline only stops a
// broken test from hanging.
func (r *receiver) next(t *testing.T) string {
	t.Helper()
	select {
	case sid := <-r.sids:
		return sid
	case <-time.After(90 * time.Second):
		t.Fatal("no back-channel logout arrived")
		return ""
	}
}

// logoutClient registers a client with a back-channel logout URI.
func (c *cluster) logoutClient(nd *node, rcv *receiver) (id, secret, redirect string) {
	c.t.Helper()
	redirect = "http://127.0.0.1:9/callback"
	status, reg, err := call(c.t.Context(), "POST", nd.url+"/clients", c.apiToken, "application/json", jsonBody(map[string]any{
		"redirect_uris": []string{redirect}, "grant_types": []string{"authorization_code", "refresh_token"},
		"scope": "openid email", "backchannel_logout_uri": rcv.srv.URL + "/bcl", "backchannel_logout_session_required": true,
		"post_logout_redirect_uris": []string{"http://127.0.0.1:9/bye"},
	}))
	if err != nil || status != 201 {
		c.t.Fatalf("register client: %d %v %v", status, reg, err)
	}
	return reg["client_id"].(string), reg["client_secret"].(string), redirect
}

// login signs alice in to the client on nd and redeems the code there;
// it returns the session cookie value and the ID token's sid.
func (c *cluster) login(nd *node, clientID, secret, redirect string) (subSID, idSID string) {
	t := c.t
	t.Helper()
	ctx := t.Context()
	verifier := oauth2.GenerateVerifier()
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	api := nd.url + "/authz-sessions/rest/v3"
	status, msg, err := call(ctx, "POST", api, c.apiToken, "application/json", jsonBody(map[string]any{"query": q.Encode()}))
	if err != nil || status != 200 {
		t.Fatalf("start: %d %v %v", status, msg, err)
	}
	sid := msg["sid"].(string)
	status, msg, err = call(ctx, "PUT", api+"/"+sid, c.apiToken, "application/json", jsonBody(map[string]any{"sub": "alice"}))
	if err == nil && msg["type"] == "consent" {
		status, msg, err = call(ctx, "PUT", api+"/"+sid, c.apiToken, "application/json", jsonBody(map[string]any{"scope": []string{"*"}}))
	}
	if err != nil || status != 200 || msg["type"] != "response" {
		t.Fatalf("login: %d %v %v", status, msg, err)
	}
	subSID = msg["sub_sid"].(string)
	u, _ := url.Parse(msg["parameters"].(map[string]any)["uri"].(string))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
	status, tok, err := call(ctx, "POST", nd.url+"/token", "", "application/x-www-form-urlencoded", []byte(form.Encode()), clientID, secret)
	if err != nil || status != 200 {
		t.Fatalf("token: %d %v %v", status, tok, err)
	}
	parts := strings.Split(tok["id_token"].(string), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		SID string `json:"sid"`
	}
	json.Unmarshal(raw, &claims)
	return subSID, claims.SID
}

func (c *cluster) deleteSession(nd *node, subSID string) int {
	req, _ := http.NewRequestWithContext(c.t.Context(), http.MethodDelete, nd.url+"/session-store/rest/v2/sessions", nil)
	req.Header.Set("Authorization", "Bearer "+c.apiToken)
	req.Header.Set("SID", subSID)
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLogoutAcrossNodes: a session made on node A is logged out through
// the logout session API started on B and confirmed on A, and another is
// deleted through the session store API on both nodes at once; each
// session's relying party is notified exactly once.
func TestLogoutAcrossNodes(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	a, b := nodes[0], nodes[1]
	rcv := newReceiver(t)
	id, secret, redirect := c.logoutClient(a, rcv)
	ctx := t.Context()

	// RP-initiated: start on B, confirm on A.
	subSID, idSID := c.login(a, id, secret, redirect)
	q := url.Values{"client_id": {id}, "post_logout_redirect_uri": {"http://127.0.0.1:9/bye"}, "state": {"s"}}
	status, msg, err := call(ctx, "POST", b.url+"/logout-sessions/rest/v1", c.apiToken, "application/json",
		jsonBody(map[string]any{"query": q.Encode(), "sub_sid": subSID}))
	if err != nil || status != 200 || msg["type"] != "confirm" {
		t.Fatalf("start on B: %d %v %v", status, msg, err)
	}
	status, msg, err = call(ctx, "PUT", a.url+"/logout-sessions/rest/v1/"+url.PathEscape(msg["sid"].(string)), c.apiToken,
		"application/json", jsonBody(map[string]any{"op_logout": true}))
	if err != nil || status != 200 || msg["type"] != "end" || msg["post_logout_redirect_uri"] != "http://127.0.0.1:9/bye?state=s" {
		t.Fatalf("confirm on A: %d %v %v", status, msg, err)
	}
	if got := rcv.next(t); got != idSID {
		t.Errorf("logout token sid %q, want the ID token's %q", got, idSID)
	}

	// Parallel deletes of one session on both nodes: one wins.
	subSID2, idSID2 := c.login(b, id, secret, redirect)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		nd := nodes[i%2]
		wg.Go(func() { statuses[i] = c.deleteSession(nd, subSID2) })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		} else if s != 404 {
			t.Errorf("DELETE: %d", s)
		}
	}
	if ok != 1 {
		t.Errorf("%d deletes succeeded, want 1", ok)
	}
	if got := rcv.next(t); got != idSID2 {
		t.Errorf("logout token sid %q, want %q", got, idSID2)
	}
	// A sentinel logout: a duplicate of the previous notification would
	// have been sent before it.
	subSID3, idSID3 := c.login(a, id, secret, redirect)
	if s := c.deleteSession(b, subSID3); s != 200 {
		t.Fatalf("DELETE on B: %d", s)
	}
	if got := rcv.next(t); got != idSID3 {
		t.Errorf("after the sentinel logout got sid %q, want %q (a duplicate notification?)", got, idSID3)
	}
	// The session is gone on both nodes.
	for _, nd := range nodes {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nd.url+"/session-store/rest/v2/sessions", nil)
		req.Header.Set("Authorization", "Bearer "+c.apiToken)
		req.Header.Set("SID", subSID)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s: GET ended session: %d", nd.Name, resp.StatusCode)
		}
	}
}

// TestExpiryNotifiedOnceAcrossNodes: both nodes run the purge every
// second; a session that passes its idle time is notified by exactly one.
func TestExpiryNotifiedOnceAcrossNodes(t *testing.T) {
	c := newCluster(t)
	c.env = []string{"KEYWARD_SESSIONS_MAX_IDLE=2s", "KEYWARD_CLUSTER_PURGE_INTERVAL=1s", "KEYWARD_CLUSTER_PURGE_MARGIN=0s"}
	nodes := c.startNodes(2)
	rcv := newReceiver(t)
	id, secret, redirect := c.logoutClient(nodes[0], rcv)
	_, first := c.login(nodes[0], id, secret, redirect)
	if got := rcv.next(t); got != first {
		t.Fatalf("expiry notification sid %q, want %q", got, first)
	}
	_, second := c.login(nodes[1], id, secret, redirect)
	if got := rcv.next(t); got != second {
		t.Errorf("next notification sid %q, want %q (the first session notified twice?)", got, second)
	}
}
