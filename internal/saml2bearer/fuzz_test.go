package saml2bearer

import (
	"testing"

	"github.com/keyward/keyward/internal/saml2bearer/samltest"
	"github.com/keyward/keyward/oauth"
)

// FuzzVerify feeds the verifier arbitrary documents, both base64url-encoded
// (so that the fuzzer reaches the XML parser and goxmldsig) and as sent. It
// must never panic, and must answer every input it refuses with
// invalid_grant.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	v := newVerifier(f, Options{})
	client := newClient(f)
	for _, h := range []samltest.Hostile{
		samltest.Honest, samltest.Unsigned, samltest.TamperNameID, samltest.CommentInNameID,
		samltest.WrapSibling, samltest.WrapInSignature, samltest.SignedInsideUnsigned,
		samltest.SignedResponse, samltest.Doctype, samltest.SHA1,
	} {
		f.Add(k.idp.XML(f, good(func(a *samltest.Assertion) { a.Hostile = h })))
	}
	f.Add(k.client.XML(f, selfIssued(nil)))
	f.Add(k.idp.XML(f, good(func(a *samltest.Assertion) { a.NoKeyInfo = true })))
	f.Add([]byte(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/></saml:Assertion>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, raw := range []string{samltest.Encode(doc), string(doc)} {
			got, err := v.Verify(t.Context(), raw, client, now)
			if err != nil {
				if oe := oauth.AsError(err); oe == nil || oe.Code != oauth.ErrCodeInvalidGrant {
					t.Fatalf("error %v, want invalid_grant", err)
				}
				continue
			}
			if got.ID == "" || got.Subject == "" || got.Issuer == "" || got.ExpiresAt.IsZero() || len(got.Audience) == 0 {
				t.Fatalf("accepted with missing fields: %+v", got)
			}
		}
	})
}
