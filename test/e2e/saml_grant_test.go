package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/saml2bearer/samltest"
	"github.com/keyward/keyward/oauth"
)

// TestSAML2BearerGrant: the SAML 2.0 bearer grant (RFC 7522) end to end,
// with assertions signed by a third-party IdP whose certificate file the
// configuration names, and self-issued by a client whose jwks carries its
// certificate; tokens verify against /jwks.json, every assertion is single
// use, and the hostile shapes are invalid_grant.
func TestSAML2BearerGrant(t *testing.T) {
	idp := samltest.NewIdP(t, "idp")
	stranger := samltest.NewIdP(t, "stranger")
	certFile := filepath.Join(t.TempDir(), "idp.pem")
	if err := os.WriteFile(certFile, idp.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const idpIssuer = "https://idp.example.org"
	e := newEnv(t, func(c *config.Config) {
		c.Grants.SAML2Bearer.Handler = "simple"
		c.Grants.SAML2Bearer.TrustedIssuers = []config.TrustedIssuer{{Issuer: idpIssuer, CertificateFile: certFile}}
	})
	if gts := e.grantTypesSupported(); !strings.Contains(strings.Join(gts, " "), oauth.GrantTypeSAML2Bearer) {
		t.Errorf("grant_types_supported = %v lacks saml2-bearer", gts)
	}
	clientIdP := samltest.NewIdP(t, "client")
	status, reg := e.registerClient(map[string]any{
		"grant_types": []string{oauth.GrantTypeSAML2Bearer}, "response_types": []string{},
		"scope": "read write", "jwks": clientIdP.JWKS(t),
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	tokenURL := e.issuer + "/token"
	third := func(mod func(*samltest.Assertion)) samltest.Assertion {
		a := samltest.Assertion{Issuer: idpIssuer, NameID: "alice", Audiences: []string{tokenURL}, Recipient: tokenURL}
		if mod != nil {
			mod(&a)
		}
		return a
	}
	grant := func(assertion string) (int, map[string]any) {
		st, body, _ := e.postForm("/token", url.Values{"grant_type": {oauth.GrantTypeSAML2Bearer}, "assertion": {assertion}, "scope": {"read admin"}}, id, sec)
		return st, body
	}

	a1 := idp.Sign(t, third(nil))
	st, body := grant(a1)
	if st != 200 {
		t.Fatalf("third-party assertion: %d %v", st, body)
	}
	if c := e.verifyAccessToken(body["access_token"].(string)); c["sub"] != "alice" || c["scope"] != "read" || c["client_id"] != id {
		t.Errorf("access token %v", c)
	}
	if body["refresh_token"] != nil {
		t.Errorf("simple handler issued a refresh token: %v", body)
	}
	if st, body := grant(a1); st != 400 || body["error"] != "invalid_grant" {
		t.Errorf("replayed assertion: %d %v", st, body)
	}

	self := clientIdP.Sign(t, samltest.Assertion{Issuer: id, NameID: id, Audiences: []string{e.issuer}, Recipient: tokenURL})
	if st, body := grant(self); st != 200 {
		t.Errorf("self-issued assertion: %d %v", st, body)
	} else if c := e.verifyAccessToken(body["access_token"].(string)); c["sub"] != id {
		t.Errorf("self-issued access token %v", c)
	}

	for name, a := range map[string]string{
		"unsigned":               idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.Unsigned })),
		"tampered NameID":        idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.TamperNameID })),
		"wrapped":                idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.WrapSibling })),
		"signed inside unsigned": idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.SignedInsideUnsigned })),
		"doctype":                idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.Doctype })),
		"xxe":                    idp.Sign(t, third(func(a *samltest.Assertion) { a.Hostile = samltest.XXE })),
		"other signer":           stranger.Sign(t, third(nil)),
		"wrong audience":         idp.Sign(t, third(func(a *samltest.Assertion) { a.Audiences = []string{"https://rp.example.org"} })),
		"wrong recipient":        idp.Sign(t, third(func(a *samltest.Assertion) { a.Recipient = "https://rp.example.org/token" })),
		"unknown issuer":         idp.Sign(t, third(func(a *samltest.Assertion) { a.Issuer = "https://evil.example.org" })),
		"not base64url":          "<saml:Assertion/>",
	} {
		if st, body := grant(a); st != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", name, st, body)
		}
	}
	// An assertion over the request size limit gets the request-size answer.
	if st, body := grant(strings.Repeat("a", 60_000)); st != http.StatusRequestEntityTooLarge || body["error"] != "invalid_request" {
		t.Errorf("oversized assertion: %d %v", st, body)
	}
	// A client not registered for the grant.
	status, other := e.registerClient(map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, other)
	}
	st, body, _ = e.postForm("/token", url.Values{"grant_type": {oauth.GrantTypeSAML2Bearer}, "assertion": {idp.Sign(t, third(nil))}},
		other["client_id"].(string), other["client_secret"].(string))
	if st != 400 || body["error"] != "unauthorized_client" {
		t.Errorf("client without the grant: %d %v", st, body)
	}
}
