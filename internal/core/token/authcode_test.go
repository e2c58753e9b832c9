package token

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func TestTokenDispatch(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		creds      Credentials
		wantCode   string
		wantStatus int
	}{
		{"missing grant_type", basic("basic", basicSecret, form("code", "x")), oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"unknown grant_type", basic("basic", basicSecret, form("grant_type", "urn:x")), oauth.ErrCodeUnsupportedGrantType, http.StatusBadRequest},
		{"not yet implemented grant_type", basic("basic", basicSecret, form("grant_type", oauth.GrantTypePassword)), oauth.ErrCodeUnsupportedGrantType, http.StatusBadRequest},
		{"grant not registered", basic("codeonly", basicSecret, form("grant_type", "refresh_token", "refresh_token", "x")), oauth.ErrCodeUnauthorizedClient, http.StatusBadRequest},
		{"repeated parameter", basic("basic", basicSecret, form("grant_type", "authorization_code", "code", "a", "code", "b")), oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"bad client before grant", basic("basic", "nope", form("grant_type", "authorization_code", "code", "a")), oauth.ErrCodeInvalidClient, http.StatusUnauthorized},
		{"missing code", basic("basic", basicSecret, form("grant_type", "authorization_code")), oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
		{"missing refresh_token", basic("basic", basicSecret, form("grant_type", "refresh_token")), oauth.ErrCodeInvalidRequest, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Token(t.Context(), tc.creds)
			wantOAuthError(t, err, tc.wantCode, tc.wantStatus)
		})
	}
}

func TestAuthorizationCode(t *testing.T) {
	e := newEnv(t)
	resp := e.redeem(codeOpts{nonce: "n-0S6_WzA2Mj"})

	if resp.TokenType != "Bearer" || resp.ExpiresIn != 600 || resp.RefreshTokenExpiresIn != 86400 {
		t.Errorf("response = %+v", resp)
	}
	if resp.Scope != "openid email profile offline_access" {
		t.Errorf("scope = %q", resp.Scope)
	}
	for name, tok := range map[string]string{"refresh": resp.RefreshToken} {
		if len(tok) < 43 || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Errorf("%s token %q is short or not URL-safe", name, tok)
		}
	}
	// Stored hashed, never in the clear.
	rt := e.refreshToken(resp.RefreshToken)
	if rt == nil {
		t.Fatal("refresh token not stored under its hash")
	}

	at, ath := e.payload(resp.AccessToken)
	if ath.Typ != "at+jwt" || ath.Alg != "ES256" {
		t.Errorf("access token header = %+v", ath)
	}
	gid := rt.GrantID
	if gs := e.grants(); len(gs) != 1 || gs[0].ID != gid {
		t.Errorf("grants = %+v, want one with ID %q", gs, gid)
	}
	iat := float64(e.now.Unix())
	wantAT := map[string]any{
		"iss": issuer, "sub": "alice", "aud": []any{issuer}, "client_id": "basic",
		"exp": iat + 600, "iat": iat, "scope": "openid email profile offline_access",
		"auth_time": iat - 60, "acr": "urn:keyward:acr:pwd", "amr": []any{"pwd"}, "gid": gid,
	}
	if at["jti"] == "" {
		t.Error("access token has no jti")
	}
	delete(at, "jti")
	if diff := cmp.Diff(wantAT, at); diff != "" {
		t.Errorf("access token claims (-want +got):\n%s", diff)
	}

	idt, idh := e.payload(resp.IDToken)
	if idh.Alg != "RS256" {
		t.Errorf("id token alg = %q, want RS256", idh.Alg)
	}
	sum := sha256.Sum256([]byte(resp.AccessToken))
	wantID := map[string]any{
		"iss": issuer, "sub": "alice", "aud": []any{"basic"}, "azp": "basic",
		"exp": iat + 300, "iat": iat, "auth_time": iat - 60, "nonce": "n-0S6_WzA2Mj",
		"acr": "urn:keyward:acr:pwd", "amr": []any{"pwd"},
		"at_hash": b64(sum[:16]), "sid": session.PublicID("subject-session-key"),
		"email_verified": true, "group": "admins",
	}
	if diff := cmp.Diff(wantID, idt); diff != "" {
		t.Errorf("id token claims (-want +got):\n%s", diff)
	}
}

func TestIDTokenAlgorithms(t *testing.T) {
	tests := []struct {
		client string
		creds  func(e *env, code string) Credentials
		alg    string
		half   func(string) []byte
	}{
		{"post", func(e *env, code string) Credentials {
			f := codeForm(code)
			f.Set("client_id", "post")
			f.Set("client_secret", postSecret)
			return formCreds(f)
		}, "ES256", func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:16] }},
		{"pkjwt", func(e *env, code string) Credentials {
			f := codeForm(code)
			f.Set("client_assertion_type", oauth.ClientAssertionTypeJWTBearer)
			f.Set("client_assertion", e.assertion("ES256", e.clientKey, nil, "pkjwt"))
			return formCreds(f)
		}, "EdDSA", func(s string) []byte { h := sha512.Sum512([]byte(s)); return h[:32] }},
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			e := newEnv(t)
			resp, err := e.svc.Token(t.Context(), tc.creds(e, e.code(codeOpts{client: tc.client})))
			if err != nil {
				t.Fatal(err)
			}
			idt, h := e.payload(resp.IDToken)
			if h.Alg != tc.alg || idt["at_hash"] != b64(tc.half(resp.AccessToken)) {
				t.Errorf("alg %q at_hash %v, want %q %q", h.Alg, idt["at_hash"], tc.alg, b64(tc.half(resp.AccessToken)))
			}
		})
	}
}

func TestAuthorizationCodeErrors(t *testing.T) {
	verifier := strings.Repeat("a", 43)
	s256 := func(v string) string { h := sha256.Sum256([]byte(v)); return b64(h[:]) }
	tests := []struct {
		name  string
		opts  codeOpts
		creds func(code string) Credentials
		clock time.Duration
	}{
		{"unknown code", codeOpts{}, func(string) Credentials { return basic("basic", basicSecret, codeForm("nope")) }, 0},
		{"expired code", codeOpts{}, func(c string) Credentials { return basic("basic", basicSecret, codeForm(c)) }, 2 * time.Minute},
		{"other client", codeOpts{}, func(c string) Credentials { return basic("basic2", basicSecret, codeForm(c)) }, 0},
		{"redirect_uri differs", codeOpts{}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "redirect_uri", redirectURI+"/x"))
		}, 0},
		{"redirect_uri missing", codeOpts{}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "redirect_uri", ""))
		}, 0},
		{"verifier missing", codeOpts{challenge: s256(verifier), method: "S256"}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c))
		}, 0},
		{"verifier wrong", codeOpts{challenge: s256(verifier), method: "S256"}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "code_verifier", strings.Repeat("b", 43)))
		}, 0},
		{"verifier too short", codeOpts{challenge: s256("short"), method: "S256"}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "code_verifier", "short"))
		}, 0},
		{"verifier bad chars", codeOpts{challenge: strings.Repeat("a", 42) + "+", method: "plain"}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "code_verifier", strings.Repeat("a", 42)+"+"))
		}, 0},
		{"plain verifier sent as S256 challenge", codeOpts{challenge: s256(verifier), method: "S256"}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "code_verifier", s256(verifier)))
		}, 0},
		{"verifier without challenge", codeOpts{}, func(c string) Credentials {
			return basic("basic", basicSecret, codeForm(c, "code_verifier", verifier))
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			code := e.code(tc.opts)
			e.now = e.now.Add(tc.clock)
			_, err := e.svc.Token(t.Context(), tc.creds(code))
			wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
			if gs := e.grants(); len(gs) != 0 {
				t.Errorf("a grant was created: %+v", gs)
			}
			// Any mismatch burns the code: the right request fails too.
			_, err = e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(code, "code_verifier", verifier)))
			wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
		})
	}
}

func TestPKCESuccess(t *testing.T) {
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	tests := []struct{ name, challenge, method string }{
		{"S256 (RFC 7636 appendix B)", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256"},
		{"plain", verifier, "plain"},
		{"plain by default", verifier, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.code(codeOpts{client: "public", challenge: tc.challenge, method: tc.method})
			f := codeForm(c, "code_verifier", verifier, "client_id", "public")
			if _, err := e.svc.Token(t.Context(), formCreds(f)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCodeReplayRevokes covers the conformance modules oidcc-codereuse and
// oidcc-codereuse-30seconds: a replayed code is invalid_grant and kills what
// the first redemption issued.
func TestCodeReplayRevokes(t *testing.T) {
	for _, enc := range []string{oauth.TokenEncodingSelfContained, oauth.TokenEncodingIdentifier} {
		t.Run(enc, func(t *testing.T) {
			e := newEnv(t)
			spec := e.grantTemplate("basic").Tokens
			spec.AccessTokenEncoding = enc
			code := e.code(codeOpts{tokens: &spec})
			resp, err := e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(code)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UserInfo(t.Context(), resp.AccessToken); err != nil {
				t.Fatalf("userinfo before replay: %v", err)
			}
			e.now = e.now.Add(30 * time.Second)
			_, err = e.svc.Token(t.Context(), basic("basic", basicSecret, codeForm(code)))
			wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)

			_, err = e.svc.UserInfo(t.Context(), resp.AccessToken)
			wantOAuthError(t, err, oauth.ErrCodeInvalidToken, http.StatusUnauthorized)
			_, err = e.svc.Token(t.Context(), basic("basic", basicSecret, form("grant_type", "refresh_token", "refresh_token", resp.RefreshToken)))
			wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
		})
	}
}

func TestIdentifierAccessToken(t *testing.T) {
	e := newEnv(t)
	spec := store.TokenSpec{AccessTokenEncoding: oauth.TokenEncodingIdentifier, AccessTokenLifetime: time.Hour}
	resp := e.redeem(codeOpts{tokens: &spec})
	if strings.Contains(resp.AccessToken, ".") || len(resp.AccessToken) < 43 {
		t.Errorf("identifier token %q", resp.AccessToken)
	}
	stored, err := e.st.AccessTokens.Get(t.Context(), secret.Hash(resp.AccessToken), e.now)
	if err != nil {
		t.Fatalf("access token not stored under its hash: %v", err)
	}
	if resp.ExpiresIn != 3600 || !stored.ExpiresAt.Equal(e.now.Add(time.Hour)) {
		t.Errorf("expires_in %d, stored expiry %v", resp.ExpiresIn, stored.ExpiresAt)
	}
	if resp.RefreshToken != "" {
		t.Error("refresh token issued although the grant did not ask for one")
	}
	// Without a refresh token the grant ends with the access token.
	g, err := e.st.Grants.Get(t.Context(), stored.GrantID, e.now)
	if err != nil {
		t.Fatal(err)
	}
	if !g.ExpiresAt.Equal(e.now.Add(time.Hour)) {
		t.Errorf("grant expires at %v", g.ExpiresAt)
	}
}

func TestAccessTokenNeverOutlivesRefreshToken(t *testing.T) {
	e := newEnv(t)
	spec := store.TokenSpec{IssueRefreshToken: true, RefreshTokenLifetime: 2 * time.Minute, AccessTokenLifetime: time.Hour}
	resp := e.redeem(codeOpts{tokens: &spec})
	if resp.ExpiresIn != 120 || resp.RefreshTokenExpiresIn != 120 {
		t.Errorf("expires_in %d refresh_token_expires_in %d, want 120 120", resp.ExpiresIn, resp.RefreshTokenExpiresIn)
	}
	spec = store.TokenSpec{IssueRefreshToken: true, RefreshTokenMaxIdle: 90 * time.Second}
	resp = e.redeem(codeOpts{tokens: &spec})
	if resp.ExpiresIn != 90 || resp.RefreshTokenExpiresIn != 0 {
		t.Errorf("idle: expires_in %d refresh_token_expires_in %d, want 90 0", resp.ExpiresIn, resp.RefreshTokenExpiresIn)
	}
}

func TestNoIDTokenWithoutOpenID(t *testing.T) {
	e := newEnv(t)
	resp := e.redeem(codeOpts{scope: []string{"api"}})
	if resp.IDToken != "" {
		t.Error("id token without openid scope")
	}
	_, err := e.svc.UserInfo(t.Context(), resp.AccessToken)
	wantOAuthError(t, err, oauth.ErrCodeInsufficientScope, http.StatusForbidden)
}

func TestResponseJSON(t *testing.T) {
	got, err := json.Marshal(&Response{AccessToken: "a", TokenType: "Bearer", ExpiresIn: 600})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"access_token":"a","token_type":"Bearer","expires_in":600}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestCodeReplayBeforeGrantStored covers the race of a replay with the
// first redemption: the replay marks the grant revoked before the first
// redemption has stored it, and the first redemption must then fail
// instead of issuing tokens that nothing will revoke.
func TestCodeReplayBeforeGrantStored(t *testing.T) {
	e := newEnv(t)
	code := e.code(codeOpts{})
	stored, err := e.svc.Codes.Consume(t.Context(), secret.Hash(code), e.now)
	if err != nil {
		t.Fatal(err)
	}
	// The replay's side, as it runs between the first redemption's
	// Consume and its Grants.Create: mark, then delete (nothing yet).
	if _, err := e.svc.markUsed(t.Context(), revocationMark(stored.GrantID), markUntil(stored), e.now); err != nil {
		t.Fatal(err)
	}
	// The first redemption's side, from storing the grant on.
	gr := stored.Grant
	gr.ID, gr.ClientID, gr.CreatedAt = stored.GrantID, stored.ClientID, e.now
	client, err := e.svc.Clients.Get(t.Context(), "basic")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.mint(t.Context(), e.now, client, &Decision{
		Grant: &gr, Create: true, IDToken: true, IssueRefreshToken: true,
		RevocationMark: revocationMark(stored.GrantID), RevocationMarkUntil: markUntil(stored),
	})
	wantOAuthError(t, err, oauth.ErrCodeInvalidGrant, http.StatusBadRequest)
	if len(e.grants()) != 0 {
		t.Errorf("the grant of a replayed code survived: %v", e.grants())
	}
}
