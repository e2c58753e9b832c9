package cluster

import (
	"sync"
	"testing"
)

// TestRefreshReplayRacesRotation: a replay of a rotated refresh token on
// node A (which must revoke the grant) races the legitimate rotation of its
// successor on node B. Whoever wins, the grant ends revoked and nobody gets
// a 500. PostgreSQL used to deadlock here; when the revocation was the
// victim the replay got a 500 and the grant survived.
func TestRefreshReplayRacesRotation(t *testing.T) {
	c := newCluster(t)
	// No reuse grace: the replay here comes at once, and within the grace
	// (5 s by default) it would get a successor instead of revoking.
	c.env = []string{"KEYWARD_TOKENS_ROTATE_REFRESH_TOKENS=true", "KEYWARD_TOKENS_REFRESH_TOKEN_REUSE_GRACE=0"}
	nodes := c.startNodes(2)
	a, b := nodes[0], nodes[1]
	id, secret, redirect := c.registerClient(a)
	ctx := t.Context()
	const rounds = 60
	rotatedWon := 0
	for i := range rounds {
		tok, err := c.flow(ctx, func(step int) *node { return nodes[(i+step)%2] }, id, secret, redirect)
		if err != nil {
			t.Fatalf("round %d: flow: %v", i, err)
		}
		status, body, err := refresh(ctx, a, id, secret, tok.refresh)
		if err != nil || status != 200 || body["refresh_token"] == nil {
			t.Fatalf("round %d: first rotation: %d %v %v", i, status, body, err)
		}
		old, cur := tok.refresh, body["refresh_token"].(string)

		var (
			replayStatus, rotateStatus int
			replayBody, rotateBody     map[string]any
			replayErr, rotateErr       error
		)
		start := make(chan struct{})
		replay := func() { <-start; replayStatus, replayBody, replayErr = refresh(ctx, a, id, secret, old) }
		rotate := func() { <-start; rotateStatus, rotateBody, rotateErr = refresh(ctx, b, id, secret, cur) }
		var wg sync.WaitGroup
		if i%2 == 0 {
			wg.Go(replay)
			wg.Go(rotate)
		} else {
			wg.Go(rotate)
			wg.Go(replay)
		}
		close(start)
		wg.Wait()

		if replayErr != nil || replayStatus != 400 || replayBody["error"] != "invalid_grant" {
			t.Fatalf("round %d: replay on %s: %d %v %v, want 400 invalid_grant", i, a.Name, replayStatus, replayBody, replayErr)
		}
		if rotateErr != nil || (rotateStatus != 200 && (rotateStatus != 400 || rotateBody["error"] != "invalid_grant")) {
			t.Fatalf("round %d: rotation on %s: %d %v %v, want 200 or 400 invalid_grant", i, b.Name, rotateStatus, rotateBody, rotateErr)
		}
		// The grant is revoked: nothing issued under it refreshes any more.
		left := []string{cur}
		if rotateStatus == 200 {
			rotatedWon++
			left = append(left, rotateBody["refresh_token"].(string))
		}
		for _, rt := range left {
			for _, nd := range nodes {
				if status, body, err := refresh(ctx, nd, id, secret, rt); err != nil || status != 400 {
					t.Fatalf("round %d: a refresh token of the replayed grant still works on %s: %d %v %v", i, nd.Name, status, body, err)
				}
			}
		}
	}
	t.Logf("%d of %d rotations completed before the revocation", rotatedWon, rounds)
}
