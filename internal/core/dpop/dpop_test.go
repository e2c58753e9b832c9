package dpop_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/testclock"
	"github.com/keyward/keyward/internal/testdpop"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store/memstore"
)

const url = "https://op.example/token"

func newVerifier(t *testing.T, clk *testclock.Clock, nonce bool) *dpop.Verifier {
	t.Helper()
	key := make([]byte, 32)
	key[0] = 7
	s, err := secret.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memstore.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &dpop.Verifier{Algs: dpop.DefaultAlgs(), Replay: mem.Ephemeral().Replay,
		NonceRequired: nonce, Sealer: s, Now: clk.Now}
}

func code(err error) string {
	var oe *oauth.Error
	if errors.As(err, &oe) {
		return oe.Code
	}
	return "not an oauth error"
}

func TestCheckReplayAndWindow(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v := newVerifier(t, clk, false)
	c := testdpop.New(t)
	c.Now = clk.Now
	proof := c.Proof("POST", url, testdpop.Opts{})
	p, err := v.Check(ctx, proof, "POST", url, "")
	if err != nil || p.JKT != c.JKT() {
		t.Fatalf("Check = %+v, %v", p, err)
	}
	if _, err := v.Check(ctx, proof, "POST", url, ""); code(err) != oauth.ErrCodeInvalidDPoPProof {
		t.Fatalf("replayed proof: %v, want invalid_dpop_proof", err)
	}
	// The same jti from another key is not a replay of the first.
	other := testdpop.New(t)
	other.Now = clk.Now
	if _, err := v.Check(ctx, other.Proof("POST", url, testdpop.Opts{JTI: p.JTI}), "POST", url, ""); err != nil {
		t.Fatalf("same jti, other key: %v", err)
	}
	old := c.Proof("POST", url, testdpop.Opts{})
	clk.Advance(2 * time.Minute)
	if _, err := v.Check(ctx, old, "POST", url, ""); code(err) != oauth.ErrCodeInvalidDPoPProof {
		t.Fatalf("expired proof: %v, want invalid_dpop_proof", err)
	}
	if _, err := v.Check(ctx, "", "POST", url, ""); code(err) != oauth.ErrCodeInvalidDPoPProof {
		t.Fatalf("missing proof: %v, want invalid_dpop_proof", err)
	}
}

func TestCheckNonce(t *testing.T) {
	ctx := context.Background()
	clk := testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	v := newVerifier(t, clk, true)
	c := testdpop.New(t)
	c.Now = clk.Now
	_, err := v.Check(ctx, c.Proof("POST", url, testdpop.Opts{}), "POST", url, "")
	oe := oauth.AsError(err)
	if oe == nil || oe.Code != oauth.ErrCodeUseDPoPNonce || oe.DPoPNonce == "" || oe.Status != 400 {
		t.Fatalf("no nonce: %v, want use_dpop_nonce with a nonce", err)
	}
	if _, err := v.Check(ctx, c.Proof("POST", url, testdpop.Opts{Nonce: oe.DPoPNonce}), "POST", url, ""); err != nil {
		t.Fatalf("with the nonce: %v", err)
	}
	if _, err := v.Check(ctx, c.Proof("POST", url, testdpop.Opts{Nonce: "forged"}), "POST", url, ""); code(err) != oauth.ErrCodeUseDPoPNonce {
		t.Fatalf("forged nonce: %v, want use_dpop_nonce", err)
	}
	clk.Advance(dpop.DefaultNonceLifetime + time.Second)
	if _, err := v.Check(ctx, c.Proof("POST", url, testdpop.Opts{Nonce: oe.DPoPNonce}), "POST", url, ""); code(err) != oauth.ErrCodeUseDPoPNonce {
		t.Fatalf("stale nonce: %v, want use_dpop_nonce", err)
	}
}
