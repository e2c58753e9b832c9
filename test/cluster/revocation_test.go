package cluster

import (
	"context"
	"net/url"
	"testing"
	"time"
)

// revoke calls /token/revoke on nd as the client.
func revoke(ctx context.Context, nd *node, clientID, secret, tok string) (int, map[string]any, error) {
	form := url.Values{"token": {tok}}
	return call(ctx, "POST", nd.url+"/token/revoke", "", "application/x-www-form-urlencoded", []byte(form.Encode()), clientID, secret)
}

// introspect calls /token/introspect on nd with the API token.
func (c *cluster) introspect(ctx context.Context, nd *node, tok string) (int, map[string]any, error) {
	form := url.Values{"token": {tok}}
	return call(ctx, "POST", nd.url+"/token/introspect", c.apiToken, "application/x-www-form-urlencoded", []byte(form.Encode()))
}

// waitRefused polls UserInfo on nd until it refuses access (401), failing
// the test after a deadline far above the journal's stated propagation
// bound; nothing is timed.
func waitRefused(t *testing.T, nd *node, access string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		status, _, err := userInfo(t.Context(), nd, access)
		if err == nil && status == 401 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s still answers %d (%v) for a revoked access token", nd.Name, status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRevocationReachesEveryNode: a self-contained access token revoked on
// node A is refused by UserInfo and introspection on node B (through the
// revocation journal and its change notice), and a refresh token revoked
// on A ends its grant on B. No timing is asserted: B is polled until a
// deadline far above the stated bound (the journal's periodic refresh).
func TestRevocationReachesEveryNode(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	a, b := nodes[0], nodes[1]
	id, secret, redirect := c.registerClient(a)
	ctx := t.Context()

	tok, err := c.flow(ctx, func(int) *node { return a }, id, secret, redirect)
	if err != nil {
		t.Fatal(err)
	}
	// The access token works on B, and B's journal copy is loaded, before
	// the revocation.
	if status, body, err := userInfo(ctx, b, tok.access); err != nil || status != 200 {
		t.Fatalf("userinfo on B before revocation: %d %v %v", status, body, err)
	}
	if status, body, err := c.introspect(ctx, b, tok.access); err != nil || status != 200 || body["active"] != true {
		t.Fatalf("introspection on B before revocation: %d %v %v", status, body, err)
	}

	if status, body, err := revoke(ctx, a, id, secret, tok.access); err != nil || status != 200 {
		t.Fatalf("revoke on A: %d %v %v", status, body, err)
	}
	// A refuses it at once.
	if status, _, _ := userInfo(ctx, a, tok.access); status != 401 {
		t.Errorf("userinfo on A after revocation: %d, want 401", status)
	}
	waitRefused(t, b, tok.access)
	if status, body, err := c.introspect(ctx, b, tok.access); err != nil || status != 200 || len(body) != 1 || body["active"] != false {
		t.Errorf("introspection on B after revocation: %d %v %v, want exactly {\"active\":false}", status, body, err)
	}
	// Only that token: the grant and its refresh token live on.
	if status, body, err := refresh(ctx, b, id, secret, tok.refresh); err != nil || status != 200 {
		t.Fatalf("refresh on B after revoking the access token: %d %v %v", status, body, err)
	}

	// Revoking the refresh token on A ends the grant everywhere.
	tok2, err := c.flow(ctx, func(int) *node { return b }, id, secret, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := revoke(ctx, a, id, secret, tok2.refresh); err != nil || status != 200 {
		t.Fatalf("revoke refresh token on A: %d %v %v", status, body, err)
	}
	if status, body, _ := refresh(ctx, b, id, secret, tok2.refresh); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh on B after revocation: %d %v, want 400 invalid_grant", status, body)
	}
	if status, _, _ := userInfo(ctx, b, tok2.access); status != 401 {
		t.Errorf("userinfo on B with the revoked grant's access token: %d, want 401", status)
	}
}

// TestSubjectRevocationReachesEveryNode: an operator revokes a subject
// through the authorisation store API on node A; on node B the subject's
// access token is refused by UserInfo and introspection and its refresh
// token by /token. B is polled until a deadline far above the stated
// bound; nothing is timed.
func TestSubjectRevocationReachesEveryNode(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	a, b := nodes[0], nodes[1]
	id, secret, redirect := c.registerClient(a)
	ctx := t.Context()

	tok, err := c.flow(ctx, func(int) *node { return a }, id, secret, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := userInfo(ctx, b, tok.access); err != nil || status != 200 {
		t.Fatalf("userinfo on B before revocation: %d %v %v", status, body, err)
	}
	form := url.Values{"subject": {"alice"}}
	status, body, err := call(ctx, "POST", a.url+"/authz-store/rest/v3/revocation", c.apiToken,
		"application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil || (status != 200 && status != 204) {
		t.Fatalf("revoke alice on A: %d %v %v", status, body, err)
	}
	waitRefused(t, b, tok.access)
	if status, body, err := c.introspect(ctx, b, tok.access); err != nil || status != 200 || len(body) != 1 || body["active"] != false {
		t.Errorf("introspection on B after revocation: %d %v %v, want exactly {\"active\":false}", status, body, err)
	}
	if status, body, _ := refresh(ctx, b, id, secret, tok.refresh); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh on B after revoking the subject: %d %v, want 400 invalid_grant", status, body)
	}
}
