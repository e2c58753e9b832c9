package authz

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/oauth"
)

// TestStrictInput: input no client legitimately sends is refused with
// invalid_request before the pipeline, as an error message (never a
// redirect that would echo it); the bounds themselves are accepted.
func TestStrictInput(t *testing.T) {
	// The repeated resource below must be one the server allows (RFC 8707).
	e := newEnv(t, Config{Resources: []string{"https://a.example/", "https://b.example/"}})
	flood := query()
	for i := range 10000 {
		flood += "&a=" + fmt.Sprint(i%10)
	}
	for _, tc := range []struct {
		name, q, want string
	}{
		{"NUL in state", query("state", "a\x00b"), "parameter state contains a control character"},
		{"NUL in nonce", query("nonce", "\x00"), "parameter nonce contains a control character"},
		{"CR LF in login_hint", query("login_hint", "a\r\nSet-Cookie: x"), "parameter login_hint contains"},
		{"invalid UTF-8 in scope", query("scope", "openid \xc3\x28"), "invalid UTF-8"},
		{"100 KB parameter", query("login_hint", strings.Repeat("a", 100<<10)), "longer than 65536 bytes"},
		{"state over 4096 bytes", query("state", strings.Repeat("s", oauth.MaxParamBytes+1)), "parameter state longer than 4096 bytes"},
		{"10,000 parameters", flood, "too many parameters"},
		{"101 parameters", func() string {
			v, _ := url.ParseQuery(query())
			for i := range oauth.MaxParams {
				v.Set(fmt.Sprintf("x%d", i), "1")
			}
			return v.Encode()
		}(), "too many parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := e.start(tc.q, "")
			if m.Type != TypeError || m.Error != oauth.ErrCodeInvalidRequest || !strings.Contains(m.ErrorDescription, tc.want) {
				t.Errorf("Start = %s %s %q, want error invalid_request containing %q", m.Type, m.Error, m.ErrorDescription, tc.want)
			}
		})
	}
	// state and nonce at their bound pass, as does a repeated resource.
	long := strings.Repeat("s", oauth.MaxParamBytes)
	m := e.start(query("state", long, "nonce", long)+"&resource=https://a.example/&resource=https://b.example/", "")
	if m.Type != TypeAuth {
		t.Fatalf("state and nonce of %d bytes: %+v", oauth.MaxParamBytes, m)
	}
	m = e.submit(e.submit(m.SID, authAlice).SID, consentAll_)
	if _, v := params(t, m); v.Get("state") != long {
		t.Errorf("the %d-byte state was not echoed whole", len(long))
	}
}

// TestPushStrictInput: PAR applies the same checks (answered directly).
func TestPushStrictInput(t *testing.T) {
	e := newEnv(t, Config{})
	for _, tc := range []struct {
		name string
		v    url.Values
	}{
		{"NUL in state", pushParams("client_id", "par", "state", "a\x00")},
		{"invalid UTF-8", pushParams("client_id", "par", "nonce", "\xff")},
		{"oversized", pushParams("client_id", "par", "login_hint", strings.Repeat("a", oauth.MaxParamBytes+1))},
		{"NUL in client_assertion", pushParams("client_id", "par", "client_assertion", "\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.Push(context.Background(), e.client("par"), tc.v)
			oe := oauth.AsError(err)
			if oe == nil || oe.Code != oauth.ErrCodeInvalidRequest || oe.Status != 400 {
				t.Errorf("err = %v, want invalid_request 400", err)
			}
		})
	}
}
