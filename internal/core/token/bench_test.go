package token

import (
	"net/url"
	"testing"

	"github.com/keyward/keyward/oauth"
)

// BenchmarkTokenAuthorizationCode measures one code redemption with
// client_secret_basic: consume, grant and refresh-token writes, an ES256
// access token and an RS256 ID token (the signing cost dominates).
func BenchmarkTokenAuthorizationCode(b *testing.B) {
	e := newEnv(b)
	codes := make([]string, 0, 1024)
	for b.Loop() {
		b.StopTimer()
		if len(codes) == 0 {
			for range cap(codes) {
				codes = append(codes, e.code(codeOpts{}))
			}
		}
		c := codes[len(codes)-1]
		codes = codes[:len(codes)-1]
		b.StartTimer()
		if _, err := e.svc.Token(b.Context(), basic("basic", basicSecret, codeForm(c))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserInfoJWT measures UserInfo with a self-contained access
// token: signature check, grant read and claims resolution.
func BenchmarkUserInfoJWT(b *testing.B) {
	e := newEnv(b)
	resp := e.redeem(codeOpts{})
	for b.Loop() {
		if _, err := e.svc.UserInfo(b.Context(), resp.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAuthenticateClient feeds arbitrary credentials through client
// authentication; it must never panic and must only ever answer with an
// *oauth.Error or one of the registered clients.
func FuzzAuthenticateClient(f *testing.F) {
	e := newEnv(f)
	f.Add("basic", basicSecret, true, "", "", "", "")
	f.Add("", "", false, "post", postSecret, "", "")
	f.Add("", "", false, "", "", oauth.ClientAssertionTypeJWTBearer, e.assertion("HS256", []byte(jwtSecret), nil, "jwtc"))
	f.Add("", "", false, "pkjwt", "", oauth.ClientAssertionTypeJWTBearer, e.assertion("ES256", e.clientKey, nil, "pkjwt"))
	f.Add("", "", false, "", "", oauth.ClientAssertionTypeJWTBearer, "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwic3ViIjoieCJ9.")
	f.Add("", "", false, "public", "", "", "")
	f.Fuzz(func(t *testing.T, basicID, basicSecret string, hasBasic bool, clientID, clientSecret, assertionType, assertion string) {
		form := url.Values{}
		for k, v := range map[string]string{
			"client_id": clientID, "client_secret": clientSecret,
			"client_assertion_type": assertionType, "client_assertion": assertion,
		} {
			if v != "" {
				form.Set(k, v)
			}
		}
		creds := Credentials{BasicID: basicID, BasicSecret: basicSecret, HasBasic: hasBasic, Form: form}
		c, err := e.svc.AuthenticateClient(t.Context(), creds)
		if err != nil {
			if oauth.AsError(err) == nil {
				t.Fatalf("non-OAuth error %T: %v", err, err)
			}
			return
		}
		if c == nil || c.ID == "" {
			t.Fatalf("nil client without error")
		}
		// The whole token endpoint must hold up too.
		form.Set("grant_type", assertionType)
		if _, err := e.svc.Token(t.Context(), creds); err != nil && oauth.AsError(err) == nil {
			t.Fatalf("Token: non-OAuth error %T: %v", err, err)
		}
	})
}
