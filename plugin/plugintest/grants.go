package plugintest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// GrantCase is one request to a grant handler and what it must answer:
// exactly Want, or an *oauth.Error whose code is WantError. Maps in
// requests and results hold JSON values (float64 numbers, map[string]any,
// []any) and lifetimes are whole seconds, so that a web hook round trip
// can reproduce them.
type GrantCase[R any] struct {
	Name      string
	Request   R
	Want      *plugin.Authorization
	WantError string
}

// ClientCredentialsHandler runs the plugin.ClientCredentialsHandler
// contract: see grantContract.
func ClientCredentialsHandler(t *testing.T, h plugin.ClientCredentialsHandler, cases []GrantCase[plugin.GrantRequest]) {
	t.Helper()
	grantContract(t, h.HandleClientCredentials, cases, cloneGrantRequest)
}

// PasswordHandler runs the plugin.PasswordHandler contract.
func PasswordHandler(t *testing.T, h plugin.PasswordHandler, cases []GrantCase[plugin.PasswordRequest]) {
	t.Helper()
	grantContract(t, h.HandlePassword, cases, func(r plugin.PasswordRequest) plugin.PasswordRequest {
		r.GrantRequest = cloneGrantRequest(r.GrantRequest)
		return r
	})
}

// JWTBearerHandler runs the plugin.JWTBearerHandler contract.
func JWTBearerHandler(t *testing.T, h plugin.JWTBearerHandler, cases []GrantCase[plugin.AssertionRequest]) {
	t.Helper()
	grantContract(t, h.HandleJWTBearer, cases, cloneAssertionRequest)
}

// SAML2BearerHandler runs the plugin.SAML2BearerHandler contract.
func SAML2BearerHandler(t *testing.T, h plugin.SAML2BearerHandler, cases []GrantCase[plugin.AssertionRequest]) {
	t.Helper()
	grantContract(t, h.HandleSAML2Bearer, cases, cloneAssertionRequest)
}

// equateEmpty lets nil and empty slices and maps compare equal: a web hook
// omits empty members.
var equateEmpty = cmpopts.EquateEmpty()

// grantContract checks a grant handler:
//
//   - every case answers exactly its Want, or an *oauth.Error with its
//     WantError code (never a plain error for a refusal);
//   - the handler does not modify the request;
//   - results are independent copies;
//   - a cancelled context yields an error wrapping context.Canceled,
//     promptly;
//   - concurrent calls are safe and agree.
//
// cases must hold at least one granted and one refused case.
func grantContract[R any](t *testing.T, call func(context.Context, R) (*plugin.Authorization, error), cases []GrantCase[R], clone func(R) R) {
	t.Helper()
	var granted *GrantCase[R]
	refused := false
	for i := range cases {
		if cases[i].Want != nil && granted == nil {
			granted = &cases[i]
		}
		if cases[i].WantError != "" {
			refused = true
		}
		if (cases[i].Want == nil) == (cases[i].WantError == "") {
			t.Fatalf("plugintest: case %q needs exactly one of Want and WantError", cases[i].Name)
		}
	}
	if granted == nil || !refused {
		t.Fatal("plugintest: the cases need at least one granted and one refused request")
	}

	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			req := clone(c.Request)
			got, err := call(t.Context(), req)
			if diff := cmp.Diff(c.Request, req, equateEmpty); diff != "" {
				t.Errorf("the handler modified the request (-before +after):\n%s", diff)
			}
			if c.WantError != "" {
				var oe *oauth.Error
				if !errors.As(err, &oe) || oe.Code != c.WantError {
					t.Fatalf("got (%+v, %v), want OAuth error %s", got, err, c.WantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want an authorization", err)
			}
			if diff := cmp.Diff(c.Want, got, equateEmpty); diff != "" {
				t.Errorf("authorization (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("results are copies", func(t *testing.T) {
		first, err := call(t.Context(), clone(granted.Request))
		if err != nil {
			t.Fatal(err)
		}
		for i := range first.Scope {
			first.Scope[i] = "changed-by-caller"
		}
		for i := range first.Audience {
			first.Audience[i] = "changed-by-caller"
		}
		for k := range first.Data {
			scribble(first.Data[k])
			first.Data[k] = "changed by caller"
		}
		second, err := call(t.Context(), clone(granted.Request))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(granted.Want, second, equateEmpty); diff != "" {
			t.Errorf("authorization changed through a previous result (-want +got):\n%s", diff)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		done := make(chan error, 1)
		go func() {
			_, err := call(ctx, clone(granted.Request))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want one wrapping context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("the handler did not return within 2s of a cancelled context")
		}
	})

	t.Run("concurrent calls", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				got, err := call(t.Context(), clone(granted.Request))
				if err != nil {
					errs <- err
					return
				}
				if !cmp.Equal(granted.Want, got, equateEmpty) {
					errs <- errors.New("a concurrent call returned a different authorization")
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func cloneGrantRequest(r plugin.GrantRequest) plugin.GrantRequest {
	r.Client.Scope = append([]string(nil), r.Client.Scope...)
	r.Client.Data = cloneMap(r.Client.Data)
	r.Scope = append([]string(nil), r.Scope...)
	if r.Params != nil {
		p := make(map[string][]string, len(r.Params))
		for k, v := range r.Params {
			p[k] = append([]string(nil), v...)
		}
		r.Params = p
	}
	return r
}

func cloneAssertionRequest(r plugin.AssertionRequest) plugin.AssertionRequest {
	r.GrantRequest = cloneGrantRequest(r.GrantRequest)
	r.Assertion.Audience = append([]string(nil), r.Assertion.Audience...)
	r.Assertion.Claims = cloneMap(r.Assertion.Claims)
	return r
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

func cloneAny(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return cloneMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = cloneAny(e)
		}
		return out
	default:
		return v
	}
}

// SampleClient is the client of the sample grant cases: confidential,
// registered for the scope "read write".
func SampleClient() plugin.Client {
	return plugin.Client{ID: "plugintest-client", Confidential: true, Scope: []string{"read", "write"},
		ApplicationType: "web", Data: map[string]any{"tier": "gold", "limits": map[string]any{"rps": float64(5)}}}
}

// SampleTokens is what the sample cases expect a simple handler to grant
// besides subject and scope: configure the handler under test with it.
func SampleTokens() plugin.Authorization {
	return plugin.Authorization{
		Audience:    []string{"https://api.example.com"},
		AccessToken: plugin.AccessTokenSpec{Lifetime: 120 * time.Second, Encoding: plugin.EncodingSelfContained},
	}
}

func sampleAuthorization(sub string, scope ...string) *plugin.Authorization {
	a := SampleTokens()
	a.Subject = sub
	a.Scope = scope
	return &a
}

func sampleGrantRequest(grantType string, scope ...string) plugin.GrantRequest {
	return plugin.GrantRequest{
		Issuer: "https://op.example.com", GrantType: grantType, Client: SampleClient(), Scope: scope,
		Params: map[string][]string{"resource": {"https://api.example.com"}},
	}
}

// SampleClientCredentialsCases are the cases a client credentials handler
// that grants the requested scope narrowed to the client's registered scope
// (the built-in "simple" handler, configured with SampleTokens) must pass.
func SampleClientCredentialsCases() []GrantCase[plugin.GrantRequest] {
	const gt = oauth.GrantTypeClientCredentials
	id := SampleClient().ID
	return []GrantCase[plugin.GrantRequest]{
		{Name: "requested scope", Request: sampleGrantRequest(gt, "read"), Want: sampleAuthorization(id, "read")},
		{Name: "no scope requested: all registered", Request: sampleGrantRequest(gt), Want: sampleAuthorization(id, "read", "write")},
		{Name: "extra values dropped", Request: sampleGrantRequest(gt, "write", "admin"), Want: sampleAuthorization(id, "write")},
		{Name: "nothing allowed", Request: sampleGrantRequest(gt, "admin"), WantError: oauth.ErrCodeInvalidScope},
	}
}

// SampleAssertion returns a verified third-party assertion for subject.
func SampleAssertion(subject string) plugin.Assertion {
	exp := time.Unix(1_900_000_000, 0).UTC()
	return plugin.Assertion{
		Issuer: "https://sts.example.org", Subject: subject, Audience: []string{"https://op.example.com/token"},
		ID: "assertion-1", IssuedAt: exp.Add(-5 * time.Minute), ExpiresAt: exp,
		Claims: map[string]any{"iss": "https://sts.example.org", "sub": subject, "groups": []any{"staff"}},
	}
}

// SampleAssertionCases are the cases a bearer assertion handler that takes
// the subject from the assertion and narrows the requested scope to the
// client's registered scope (the built-in "simple" handlers, configured
// with SampleTokens) must pass, for grantType.
func SampleAssertionCases(grantType string) []GrantCase[plugin.AssertionRequest] {
	req := func(a plugin.Assertion, scope ...string) plugin.AssertionRequest {
		return plugin.AssertionRequest{GrantRequest: sampleGrantRequest(grantType, scope...), Assertion: a}
	}
	self := SampleAssertion(SampleClient().ID)
	self.Issuer, self.SelfIssued = SampleClient().ID, true
	noSub := SampleAssertion("")
	return []GrantCase[plugin.AssertionRequest]{
		{Name: "third party", Request: req(SampleAssertion("alice"), "read"), Want: sampleAuthorization("alice", "read")},
		{Name: "self-issued", Request: req(self), Want: sampleAuthorization(SampleClient().ID, "read", "write")},
		{Name: "extra values dropped", Request: req(SampleAssertion("bob"), "write", "admin"), Want: sampleAuthorization("bob", "write")},
		{Name: "nothing allowed", Request: req(SampleAssertion("alice"), "admin"), WantError: oauth.ErrCodeInvalidScope},
		{Name: "no subject", Request: req(noSub, "read"), WantError: oauth.ErrCodeInvalidGrant},
	}
}

// PasswordFixture names the accounts SamplePasswordCases use.
type PasswordFixture struct {
	// Username and Password are a valid account whose subject is Subject.
	Username, Password, Subject string
	// UnknownUsername is an account that does not exist.
	UnknownUsername string
}

// SamplePasswordCases are the cases a password handler that checks the
// credentials and grants the requested scope narrowed to the client's
// registered scope, with a refresh token (the built-in "users" handler,
// configured with SampleTokens) must pass. They never fail a password
// more than twice for one username, so a throttle does not interfere.
func SamplePasswordCases(fx PasswordFixture) []GrantCase[plugin.PasswordRequest] {
	req := func(user, pass string, scope ...string) plugin.PasswordRequest {
		return plugin.PasswordRequest{GrantRequest: sampleGrantRequest(oauth.GrantTypePassword, scope...), Username: user, Password: pass}
	}
	want := func(scope ...string) *plugin.Authorization {
		a := sampleAuthorization(fx.Subject, scope...)
		a.RefreshToken.Issue = true
		return a
	}
	return []GrantCase[plugin.PasswordRequest]{
		{Name: "valid", Request: req(fx.Username, fx.Password, "read"), Want: want("read")},
		{Name: "no scope requested", Request: req(fx.Username, fx.Password), Want: want("read", "write")},
		{Name: "wrong password", Request: req(fx.Username, fx.Password+"x", "read"), WantError: oauth.ErrCodeInvalidGrant},
		{Name: "unknown user", Request: req(fx.UnknownUsername, fx.Password, "read"), WantError: oauth.ErrCodeInvalidGrant},
		{Name: "nothing allowed", Request: req(fx.Username, fx.Password, "admin"), WantError: oauth.ErrCodeInvalidScope},
	}
}
