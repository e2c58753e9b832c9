package cluster

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestFlowsAcrossNodes: every step of a flow on a different node, and the
// resulting tokens accepted everywhere.
func TestFlowsAcrossNodes(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(3)
	id, secret, redirect := c.registerClient(nodes[0])
	ctx := t.Context()
	for i := range 3 {
		tok, err := c.flow(ctx, func(step int) *node { return nodes[(i+step)%3] }, id, secret, redirect)
		if err != nil {
			t.Fatalf("flow %d: %v", i, err)
		}
		// The ID token verifies against the cluster's keys, fetched through
		// the load balancer by a real relying-party library.
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), c.issuer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(ctx, tok.id); err != nil {
			t.Errorf("flow %d: ID token: %v", i, err)
		}
		for _, nd := range nodes {
			if status, body, err := userInfo(ctx, nd, tok.access); err != nil || status != 200 || body["sub"] != "alice" {
				t.Errorf("flow %d: userinfo on %s: %d %v %v", i, nd.Name, status, body, err)
			}
		}
		if status, body, err := refresh(ctx, nodes[(i+1)%3], id, secret, tok.refresh); err != nil || status != 200 {
			t.Errorf("flow %d: refresh: %d %v %v", i, status, body, err)
		}
	}
}

// TestNodeKilledUnderLoad: one node dies with SIGKILL in the middle of a
// load of flows; every authorisation that was answered stays valid, and new
// flows keep working on the other nodes.
func TestNodeKilledUnderLoad(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(3)
	id, secret, redirect := c.registerClient(nodes[0])
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	const workers, perWorker = 4, 12
	var (
		mu        sync.Mutex
		answered  []*tokens
		failures  int
		completed int
		killOnce  sync.Once
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				k := w*perWorker + i
				tok, err := c.flow(ctx, func(step int) *node { return nodes[(k+step)%3] }, id, secret, redirect)
				mu.Lock()
				if err != nil {
					failures++
				} else {
					answered = append(answered, tok)
				}
				completed++
				done := completed
				mu.Unlock()
				if done == workers*perWorker/3 {
					killOnce.Do(func() { c.kill(nodes[2]) })
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d flows answered, %d failed (they touched the killed node)", len(answered), failures)
	if len(answered) < workers*perWorker/3 {
		t.Fatalf("only %d flows were answered", len(answered))
	}
	survivors := nodes[:2]
	for i, tok := range answered {
		nd := survivors[i%2]
		if status, body, err := userInfo(ctx, nd, tok.access); err != nil || status != 200 {
			t.Errorf("answered flow %d: access token rejected by %s: %d %v %v", i, nd.Name, status, body, err)
		}
		if status, body, err := refresh(ctx, nd, id, secret, tok.refresh); err != nil || status != 200 {
			t.Errorf("answered flow %d: refresh token rejected by %s: %d %v %v", i, nd.Name, status, body, err)
		}
	}
	for i := range 4 {
		if _, err := c.flow(ctx, func(step int) *node { return survivors[(i+step)%2] }, id, secret, redirect); err != nil {
			t.Errorf("new flow %d after the kill: %v", i, err)
		}
	}
}

// TestKeyRotationReachesOtherNodes: keys rotated with `keyward keys rotate`
// appear in every node's JWKS and sign new tokens within the refresh bound.
func TestKeyRotationReachesOtherNodes(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	id, secret, redirect := c.registerClient(nodes[0])
	ctx := t.Context()
	before, err := jwks(ctx, nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	rotate := exec.CommandContext(ctx, binary, "keys", "rotate", "--store", c.storeDSN, "--redis", c.redisURL,
		"--master-key", c.masterKey, "--data-dir", t.TempDir(), "--issuer", c.issuer)
	rotate.Env = append(os.Environ(), "KEYWARD_CLUSTER_REDIS_PREFIX="+c.prefix)
	if out, err := rotate.CombinedOutput(); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	// The documented bound is keys.refresh_interval (3 s here); a change
	// notice usually makes it immediate.
	deadline := time.Now().Add(3*time.Second + 2*time.Second)
	var after []string
	for {
		if after, err = jwks(ctx, nodes[1]); err != nil {
			t.Fatal(err)
		}
		if len(after) > len(before) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var added []string
	for _, k := range after {
		if !slices.Contains(before, k) {
			added = append(added, k)
		}
	}
	if len(added) == 0 {
		t.Fatalf("node B's JWKS did not show a new key within the bound: before %v after %v", before, after)
	}
	for _, k := range before {
		if !slices.Contains(after, k) {
			t.Errorf("retired key %s was unpublished at once", k)
		}
	}
	tok, err := c.flow(ctx, func(int) *node { return nodes[1] }, id, secret, redirect)
	if err != nil {
		t.Fatal(err)
	}
	if kid := kidOf(tok.id); !slices.Contains(added, kid) {
		t.Errorf("node B signed a new ID token with %s, want one of the new keys %v", kid, added)
	}
}

// TestNodesStartingTogether: two nodes started at once on an empty database
// end with one schema and one key set.
func TestNodesStartingTogether(t *testing.T) {
	c := newCluster(t)
	nodes := c.startNodes(2)
	a, err := jwks(t.Context(), nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwks(t.Context(), nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(a)
	slices.Sort(b)
	// Three signing keys (RS256, ES256, EdDSA) and two encryption keys
	// (RSA-OAEP-256, ECDH-ES).
	if !slices.Equal(a, b) || len(a) != 5 {
		t.Errorf("node keys differ or are not one set of five: %v vs %v", a, b)
	}
}
