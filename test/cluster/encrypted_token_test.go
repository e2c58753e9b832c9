package cluster

import (
	"strings"
	"testing"
)

// TestEncryptedPairwiseTokenAcrossNodes: an encrypted (JWE) access token
// with a pairwise subject minted on one node is accepted by UserInfo and
// introspection on another: both derive the encryption key and the
// pairwise salt from the shared master key.
func TestEncryptedPairwiseTokenAcrossNodes(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	a := nodes[0]
	id, _, _ := c.registerClient(a)
	ctx := t.Context()
	status, tok, err := call(ctx, "POST", a.url+"/direct-authz/rest/v2", c.apiToken, "application/json", jsonBody(map[string]any{
		"client_id": id, "sub": "erin", "scope": []string{"openid", "email"}, "claims": []string{"*"},
		"audience":     []string{"https://rs.example"},
		"access_token": map[string]any{"encrypt": true, "sub_type": "PAIRWISE"},
		"data":         map[string]any{"tier": "gold"},
	}))
	if err != nil || status != 200 {
		t.Fatalf("direct authorisation on %s: %d %v %v", a.Name, status, tok, err)
	}
	at := tok["access_token"].(string)
	if strings.Count(at, ".") != 4 {
		t.Fatalf("access token is not a JWE: %d parts", strings.Count(at, ".")+1)
	}
	var subs []any
	for _, nd := range nodes {
		if status, body, err := userInfo(ctx, nd, at); err != nil || status != 200 || body["sub"] != "erin" {
			t.Errorf("userinfo on %s: %d %v %v", nd.Name, status, body, err)
		}
		status, in, err := c.introspect(ctx, nd, at)
		if err != nil || status != 200 || in["active"] != true || in["sub_type"] != "PAIRWISE" || in["sub"] == "erin" {
			t.Errorf("introspection on %s: %d %v %v", nd.Name, status, in, err)
		}
		subs = append(subs, in["sub"])
	}
	if subs[0] != subs[1] {
		t.Errorf("the nodes derive different pairwise subjects: %v", subs)
	}
}
