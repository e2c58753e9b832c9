package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
)

// bySubject supplies the subject session ID the core takes from the grant,
// which the generic contract suite does not know about.
type bySubject struct {
	src  *ClaimsSource
	keys map[string]string
}

func (b bySubject) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	req.SubjectSessionID = b.keys[req.Subject]
	return b.src.Claims(ctx, req)
}

func (b bySubject) SupportedClaims() []string { return b.src.SupportedClaims() }

func TestClaimsSourceContract(t *testing.T) {
	svc, _, _ := newService(t, Config{})
	fx := plugintest.SampleClaimsFixture()
	sess, _, err := svc.Create(t.Context(), Login{Sub: fx.Subject, Claims: fx.Claims})
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewClaimsSource(svc, []string{"name", "email", "email_verified", "updated_at", "address", "groups"})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.ClaimsSource(t, bySubject{src: src, keys: map[string]string{fx.Subject: sess.ID}}, fx)
}

func TestClaimsSourceSessionLifetime(t *testing.T) {
	svc, clock, _ := newService(t, Config{MaxIdle: time.Hour})
	src, err := NewClaimsSource(svc, []string{"login_ip", "x_*"})
	if err != nil {
		t.Fatal(err)
	}
	sess, sid, err := svc.Create(t.Context(), Login{Sub: "alice", Claims: map[string]any{
		"login_ip": "192.0.2.7", "x_device": "laptop", "email": "not-served@example.com",
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := plugin.ClaimsRequest{Subject: "alice", SubjectSessionID: sess.ID, Transport: oauth.ClaimsTransportUserInfo,
		Claims: []string{"login_ip", "x_device", "email", "sub"}}
	get := func() map[string]any {
		t.Helper()
		got, err := src.Claims(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if diff := cmp.Diff(map[string]any{"login_ip": "192.0.2.7", "x_device": "laptop"}, get()); diff != "" {
		t.Errorf("live session claims (-want +got):\n%s", diff)
	}

	// Serving claims is not a use: the idle deadline does not move.
	before, err := svc.Peek(t.Context(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	get()
	after, err := svc.Peek(t.Context(), sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.LastUsedAt.Equal(before.LastUsedAt) {
		t.Errorf("last used moved from %v to %v", before.LastUsedAt, after.LastUsedAt)
	}

	other := req
	other.Subject = "mallory"
	if got, err := src.Claims(t.Context(), other); err != nil || len(got) != 0 {
		t.Errorf("claims for another subject = %v, %v; want none", got, err)
	}
	none := req
	none.SubjectSessionID = ""
	if got, err := src.Claims(t.Context(), none); err != nil || len(got) != 0 {
		t.Errorf("claims without session = %v, %v; want none", got, err)
	}

	if _, err := svc.End(t.Context(), sid); err != nil {
		t.Fatal(err)
	}
	if got := get(); len(got) != 0 {
		t.Errorf("claims after logout = %v, want none", got)
	}
}

func TestClaimsSourceExpired(t *testing.T) {
	svc, clock, _ := newService(t, Config{MaxIdle: time.Hour})
	src, err := NewClaimsSource(svc, []string{"login_ip"})
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := svc.Create(t.Context(), Login{Sub: "alice", Claims: map[string]any{"login_ip": "192.0.2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	got, err := src.Claims(t.Context(), plugin.ClaimsRequest{Subject: "alice", SubjectSessionID: sess.ID, Claims: []string{"login_ip"}})
	if err != nil || len(got) != 0 {
		t.Errorf("claims of an expired session = %v, %v; want none", got, err)
	}
}

func TestNewClaimsSourceValidation(t *testing.T) {
	svc, _, _ := newService(t, Config{})
	for _, tc := range []struct {
		sup  []string
		want string
	}{
		{nil, "supported_claims"},
		{[]string{"a*b"}, "invalid"},
		{[]string{"sub"}, "invalid"},
		{[]string{"name#de"}, "invalid"},
		{[]string{""}, "invalid"},
	} {
		_, err := NewClaimsSource(svc, tc.sup)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClaimsSource(%q) = %v, want error containing %q", tc.sup, err, tc.want)
		}
	}
	if _, err := NewClaimsSource(nil, []string{"x"}); err == nil {
		t.Error("NewClaimsSource(nil) succeeded")
	}
}
