package cluster

import (
	"net/url"
	"sync"
	"testing"
)

// TestDirectAuthzAcrossNodes: a subject session created by the direct
// authorisation API on one node gives single sign-on on the other, and its
// tokens work everywhere; with rotation, retries of a rotated refresh token
// racing on both nodes within the reuse grace all get successors and the
// grant stands.
func TestDirectAuthzAcrossNodes(t *testing.T) {
	c := newCluster(t)
	// A grace no test run can outlast, so that "within the grace" does not
	// depend on how fast the machine is.
	c.env = []string{"KEYWARD_TOKENS_ROTATE_REFRESH_TOKENS=true", "KEYWARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE=1m"}
	nodes := c.startNodes(2)
	a, b := nodes[0], nodes[1]
	id, secret, redirect := c.registerClient(a)
	ctx := t.Context()

	status, tok, err := call(ctx, "POST", a.url+"/direct-authz/rest/v2", c.apiToken, "application/json", jsonBody(map[string]any{
		"client_id": id, "sub_session": map[string]any{"sub": "dave"},
		"scope": []string{"openid", "email", "offline_access"}, "claims": []string{"*"},
	}))
	if err != nil || status != 200 || tok["sub_sid"] == nil || tok["refresh_token"] == nil {
		t.Fatalf("direct authorisation on %s: %d %v %v", a.Name, status, tok, err)
	}
	for _, nd := range nodes {
		if status, body, err := userInfo(ctx, nd, tok["access_token"].(string)); err != nil || status != 200 || body["sub"] != "dave" {
			t.Errorf("userinfo on %s: %d %v %v", nd.Name, status, body, err)
		}
	}
	q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	status, msg, err := call(ctx, "POST", b.url+"/authz-sessions/rest/v3", c.apiToken, "application/json",
		jsonBody(map[string]any{"query": q.Encode(), "sub_sid": tok["sub_sid"]}))
	if err != nil || status != 200 || msg["type"] == "auth" {
		t.Errorf("login on %s with the direct session: %d %v %v, want no auth prompt", b.Name, status, msg, err)
	}

	rt1 := tok["refresh_token"].(string)
	status, next, err := refresh(ctx, a, id, secret, rt1)
	if err != nil || status != 200 || next["refresh_token"] == nil {
		t.Fatalf("rotation on %s: %d %v %v", a.Name, status, next, err)
	}
	const retries = 6
	var wg sync.WaitGroup
	got := make([]map[string]any, retries)
	codes := make([]int, retries)
	for i := range retries {
		wg.Go(func() { codes[i], got[i], _ = refresh(ctx, nodes[i%2], id, secret, rt1) })
	}
	wg.Wait()
	for i := range retries {
		if codes[i] != 200 || got[i]["refresh_token"] == nil {
			t.Fatalf("retry %d within the grace on %s: %d %v, want a successor", i, nodes[i%2].Name, codes[i], got[i])
		}
	}
	// The grant stands: the first successor still refreshes.
	if status, body, err := refresh(ctx, b, id, secret, next["refresh_token"].(string)); err != nil || status != 200 {
		t.Errorf("the first successor after the retries: %d %v %v", status, body, err)
	}
}
