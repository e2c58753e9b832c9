package server

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/internal/metrics"
	"github.com/keyward/keyward/plugin"
)

type flakySource struct{ err error }

func (f flakySource) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return map[string]any{"email": "a@example.com"}, f.err
}
func (flakySource) SupportedClaims() []string { return []string{"email"} }

type onlyClaims struct{}

func (onlyClaims) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return nil, nil
}

// TestMeasuredSource: claims-source calls and failures are counted, and
// the answer passes through unchanged.
func TestMeasuredSource(t *testing.T) {
	m := metrics.New(nil)
	ok := measured(flakySource{}, "hr", m)
	bad := measured(flakySource{errors.New("directory down")}, "hr", m)
	if sup, isSup := ok.(plugin.ClaimsSupporter); !isSup || sup.SupportedClaims()[0] != "email" {
		t.Error("the wrapper hides SupportedClaims: the resolver would route every claim to the source")
	}
	if _, isSup := measured(onlyClaims{}, "x", m).(plugin.ClaimsSupporter); isSup {
		t.Error("the wrapper adds SupportedClaims to a source without it")
	}
	if out, err := ok.Claims(t.Context(), plugin.ClaimsRequest{}); err != nil || out["email"] != "a@example.com" {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := bad.Claims(t.Context(), plugin.ClaimsRequest{}); err == nil {
		t.Fatal("the error was swallowed")
	}
	if n := m.Timer("claimsSource.hr.calls").Count(); n != 2 {
		t.Errorf("calls %d, want 2", n)
	}
	if n := m.Meter("claimsSource.hr.failures").Count(); n != 1 {
		t.Errorf("failures %d, want 1", n)
	}
}
