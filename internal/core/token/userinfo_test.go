package token

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/store"
)

func TestUserInfo(t *testing.T) {
	for _, enc := range []string{oauth.TokenEncodingSelfContained, oauth.TokenEncodingIdentifier} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t)
			spec := store.TokenSpec{AccessTokenEncoding: enc}
			resp := e.redeem(codeOpts{tokens: &spec})
			got, err := e.svc.UserInfo(t.Context(), resp.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			// UserInfo-routed consented claims and presets; the ID-token
			// routed email_verified and unconsented phone_number stay out.
			want := map[string]any{"sub": "alice", "name": "Alice Adams", "email": "alice@example.com", "dept": "eng"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("userinfo (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserInfoErrors(t *testing.T) {
	tests := []struct {
		name   string
		token  func(e *env, resp *Response) string
		code   string
		status int
	}{
		{"empty", func(*env, *Response) string { return "" }, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"garbage", func(*env, *Response) string { return "not-a-token" }, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"garbage JWT", func(*env, *Response) string { return "a.b.c" }, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"expired", func(e *env, r *Response) string {
			e.now = e.now.Add(601 * time.Second)
			return r.AccessToken
		}, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"tampered signature", func(_ *env, r *Response) string {
			p := splitJWT(t, r.AccessToken)
			sig := []byte(p[2])
			sig[3] ^= 1
			return p[0] + "." + p[1] + "." + string(sig)
		}, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"tampered payload", func(_ *env, r *Response) string {
			p := splitJWT(t, r.AccessToken)
			return p[0] + "." + b64([]byte(`{"iss":"`+issuer+`","sub":"alice","gid":"x","exp":9999999999,"scope":"openid"}`)) + "." + p[2]
		}, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"id token as access token", func(_ *env, r *Response) string { return r.IDToken }, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"other issuer", func(e *env, r *Response) string {
			c, _ := e.payload(r.AccessToken)
			c["iss"] = "https://evil.example.com"
			tok, err := e.keys.Sign("ES256", TypeAccessTokenJWT, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"grant revoked", func(e *env, r *Response) string {
			for _, g := range e.grants() {
				if err := e.svc.Grants.Delete(context.Background(), g.ID); err != nil {
					t.Fatal(err)
				}
			}
			return r.AccessToken
		}, oauth.ErrCodeInvalidToken, http.StatusUnauthorized},
		{"narrowed without openid", func(e *env, r *Response) string {
			nr, err := e.svc.Token(t.Context(), refreshForm(r.RefreshToken, "scope", "email"))
			if err != nil {
				t.Fatal(err)
			}
			return nr.AccessToken
		}, oauth.ErrCodeInsufficientScope, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			resp := e.redeem(codeOpts{})
			_, err := e.svc.UserInfo(t.Context(), tc.token(e, resp))
			wantOAuthError(t, err, tc.code, tc.status)
		})
	}
}

type failingSource struct{}

func (failingSource) Claims(context.Context, plugin.ClaimsRequest) (map[string]any, error) {
	return nil, errors.New("ldap://10.0.0.1 refused: password=hunter2")
}

// failingSupplier is a failing source that owns email and email_verified.
type failingSupplier struct{ failingSource }

func (failingSupplier) SupportedClaims() []string { return []string{"email", "email_verified"} }

func twoSources(t *testing.T, onError string, log *bytes.Buffer) *claims.Resolver {
	t.Helper()
	r, err := claims.New([]claims.Source{
		{Name: "claims.sources[0] (users)", Source: directory(t)},
		{Name: "claims.sources[1] (ldap)", Source: failingSupplier{}, OnError: onError},
	}, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestClaimsSourceFailure: a failing source under on_error: omit leaves its
// claims out of the ID token and UserInfo (logged, counted); under
// on_error: fail both the token endpoint and UserInfo answer
// temporarily_unavailable (503). A resolver failing otherwise is a
// server_error without details.
func TestClaimsSourceFailure(t *testing.T) {
	t.Run("omit", func(t *testing.T) {
		e := newEnv(t)
		var logs bytes.Buffer
		r := twoSources(t, claims.OnErrorOmit, &logs)
		e.svc.Claims = r
		resp := e.redeem(codeOpts{})
		idc, _ := e.payload(resp.IDToken)
		if _, ok := idc["email_verified"]; ok {
			t.Errorf("id token has email_verified from a failed source: %v", idc)
		}
		got, err := e.svc.UserInfo(t.Context(), resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if got["name"] != "Alice Adams" || got["email"] != nil {
			t.Errorf("userinfo = %v, want name and no email", got)
		}
		if n := r.Failures()["claims.sources[1] (ldap)"]; n != 2 {
			t.Errorf("failures counted = %d, want 2", n)
		}
		if !strings.Contains(logs.String(), "claims.sources[1] (ldap)") || !strings.Contains(logs.String(), "on_error=omit") {
			t.Errorf("failure not logged with the source name:\n%s", logs.String())
		}
	})
	t.Run("fail", func(t *testing.T) {
		e := newEnv(t)
		var logs bytes.Buffer
		e.svc.Claims = twoSources(t, claims.OnErrorFail, &logs)
		c := e.code(codeOpts{})
		_, err := e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(c)))
		wantOAuthError(t, err, oauth.ErrCodeTemporarilyUnavailable, http.StatusServiceUnavailable)

		e.svc.Claims = twoSources(t, claims.OnErrorOmit, &logs)
		resp := e.redeem(codeOpts{})
		e.svc.Claims = twoSources(t, claims.OnErrorFail, &logs)
		_, err = e.svc.UserInfo(t.Context(), resp.AccessToken)
		wantOAuthError(t, err, oauth.ErrCodeTemporarilyUnavailable, http.StatusServiceUnavailable)
		if oe := oauth.AsError(err); strings.Contains(oe.Description, "ldap") || strings.Contains(oe.Description, "hunter2") {
			t.Errorf("description leaks the cause: %q", oe.Description)
		}
	})
	t.Run("resolver failure", func(t *testing.T) {
		e := newEnv(t)
		resp := e.redeem(codeOpts{})
		e.svc.Claims = resolverFunc(failingSource{}.Claims)
		_, err := e.svc.UserInfo(t.Context(), resp.AccessToken)
		wantOAuthError(t, err, oauth.ErrCodeServerError, http.StatusInternalServerError)
		if oe := oauth.AsError(err); strings.Contains(oe.Description, "ldap") {
			t.Errorf("description leaks the cause: %q", oe.Description)
		}
		if !strings.Contains(e.logs.String(), "refused") {
			t.Errorf("cause not logged:\n%s", e.logs)
		}
	})
}

// resolverFunc adapts a function to ClaimsResolver, for tests.
type resolverFunc func(context.Context, plugin.ClaimsRequest) (map[string]any, error)

func (f resolverFunc) Get(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	return f(ctx, req)
}
