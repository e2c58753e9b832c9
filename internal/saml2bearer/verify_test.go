package saml2bearer

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/internal/saml2bearer/samltest"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	tokenURL  = "https://op.example.com/token"
	issuerURL = "https://op.example.com"
	idpEntity = "https://idp.example.org"
	clientID  = "client-1"
)

var now = time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)

// signers are generated once per test binary: RSA key generation dominates
// the time of these tests.
type signers struct {
	idp, rollover, stranger, client *samltest.IdP
}

var signersOnce sync.Once
var shared signers

func keys(tb testing.TB) signers {
	tb.Helper()
	signersOnce.Do(func() {
		shared = signers{
			idp:      samltest.NewIdP(tb, "idp"),
			rollover: samltest.NewIdP(tb, "idp-next"),
			stranger: samltest.NewIdP(tb, "stranger"),
			client:   samltest.NewIdP(tb, clientID),
		}
	})
	if shared.idp == nil {
		tb.Fatal("key generation failed")
	}
	return shared
}

func newVerifier(tb testing.TB, o Options) *Verifier {
	tb.Helper()
	k := keys(tb)
	if o.Issuers == nil {
		o.Issuers = []TrustedIssuer{{Issuer: idpEntity, Certificates: []*x509.Certificate{k.idp.Cert, k.rollover.Cert}}}
	}
	if o.Audiences == nil {
		o.Audiences = []string{tokenURL, issuerURL}
	}
	if o.Recipients == nil {
		o.Recipients = []string{tokenURL}
	}
	v, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func newClient(tb testing.TB) *store.Client {
	return &store.Client{ID: clientID, Metadata: store.ClientMetadata{JWKS: keys(tb).client.JWKS(tb)}}
}

// good is a valid third-party assertion, changed by mut.
func good(mut func(*samltest.Assertion)) samltest.Assertion {
	a := samltest.Assertion{
		Now:        now,
		Issuer:     idpEntity,
		NameID:     "alice@example.org",
		Audiences:  []string{tokenURL},
		Recipient:  tokenURL,
		Attributes: map[string][]string{"email": {"alice@example.org"}, "groups": {"staff", "admins"}},
	}
	if mut != nil {
		mut(&a)
	}
	return a
}

// selfIssued is a valid assertion the client issued for itself.
func selfIssued(mut func(*samltest.Assertion)) samltest.Assertion {
	return good(func(a *samltest.Assertion) {
		a.Issuer, a.NameID, a.Attributes = clientID, clientID, nil
		if mut != nil {
			mut(a)
		}
	})
}

func wantInvalidGrant(t *testing.T, err error, desc string) {
	t.Helper()
	oe := oauth.AsError(err)
	if oe == nil {
		t.Fatalf("error %v, want invalid_grant %q", err, desc)
	}
	if oe.Code != oauth.ErrCodeInvalidGrant || oe.Status != 400 || oe.Description != desc {
		t.Fatalf("error %s (%d) %q, want invalid_grant (400) %q; cause: %v", oe.Code, oe.Status, oe.Description, desc, oe.Unwrap())
	}
}

func TestVerifyThirdParty(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{})
	raw := k.idp.Sign(t, good(func(a *samltest.Assertion) {
		a.ID = "_a1"
		a.NameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
		a.NotBefore = now.Add(-time.Minute)
		a.NotOnOrAfter = now.Add(10 * time.Minute)
		a.SubjectNotOnOrAfter = now.Add(5 * time.Minute)
		a.IssueInstant = now.Add(-time.Second)
		a.Audiences = []string{"https://someone.else", issuerURL}
	}))
	got, err := v.Verify(t.Context(), raw, newClient(t), now)
	if err != nil {
		t.Fatal(err)
	}
	want := &assertion.Verified{
		Issuer:        idpEntity,
		Subject:       "alice@example.org",
		SubjectFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
		Audience:      []string{"https://someone.else", issuerURL},
		ID:            "_a1",
		IssuedAt:      now.Add(-time.Second),
		NotBefore:     now.Add(-time.Minute),
		ExpiresAt:     now.Add(5 * time.Minute), // the earliest NotOnOrAfter
		SelfIssued:    false,
		Claims:        map[string]any{"email": []string{"alice@example.org"}, "groups": []string{"staff", "admins"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("verified (-want +got):\n%s", diff)
	}
}

func TestVerifySelfIssued(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{})
	got, err := v.Verify(t.Context(), k.client.Sign(t, selfIssued(nil)), newClient(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if !got.SelfIssued || got.Issuer != clientID || got.Subject != clientID {
		t.Errorf("got %+v, want a self-issued assertion for %s", got, clientID)
	}
}

// TestVerifyAccepts lists assertions that are unusual but valid, with what
// the verifier must read from them.
func TestVerifyAccepts(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{})
	client := newClient(t)
	cases := []struct {
		name  string
		raw   string
		check func(*testing.T, *assertion.Verified)
	}{
		{"rollover certificate", k.rollover.Sign(t, good(nil)), nil},
		{"no KeyInfo, several configured certificates", k.rollover.Sign(t, good(func(a *samltest.Assertion) { a.NoKeyInfo = true })), nil},
		{"padded base64url", padded(k.idp.Sign(t, good(nil))), nil},
		{"expired within the skew", k.idp.Sign(t, good(func(a *samltest.Assertion) {
			a.NotOnOrAfter, a.SubjectNotOnOrAfter = now.Add(-30*time.Second), now.Add(-30*time.Second)
		})), func(t *testing.T, got *assertion.Verified) {
			if !got.ExpiresAt.Equal(now.Add(-30 * time.Second)) {
				t.Errorf("ExpiresAt %s", got.ExpiresAt)
			}
		}},
		{"not yet valid within the skew", k.idp.Sign(t, good(func(a *samltest.Assertion) { a.NotBefore = now.Add(30 * time.Second) })), nil},
		{"no Conditions NotOnOrAfter", k.idp.Sign(t, good(func(a *samltest.Assertion) { a.NoNotOnOrAfter = true })),
			func(t *testing.T, got *assertion.Verified) {
				if !got.ExpiresAt.Equal(now.Add(5 * time.Minute)) {
					t.Errorf("ExpiresAt %s, want the confirmation's", got.ExpiresAt)
				}
			}},
		{"long Conditions, short confirmation", k.idp.Sign(t, good(func(a *samltest.Assertion) { a.NotOnOrAfter = now.Add(8 * time.Hour) })),
			func(t *testing.T, got *assertion.Verified) {
				if !got.ExpiresAt.Equal(now.Add(5 * time.Minute)) {
					t.Errorf("ExpiresAt %s, want the confirmation's", got.ExpiresAt)
				}
			}},
		{"OneTimeUse and ProxyRestriction", k.idp.Sign(t, good(func(a *samltest.Assertion) {
			a.ExtraConditions = []string{"OneTimeUse", "ProxyRestriction"}
		})), nil},
		{"two audience restrictions, both naming us", k.idp.Sign(t, good(func(a *samltest.Assertion) {
			a.MoreRestrictions = [][]string{{issuerURL}}
		})), nil},
		{"comment in the signed NameID", k.idp.Sign(t, good(func(a *samltest.Assertion) { a.Hostile = samltest.CommentInNameID })),
			func(t *testing.T, got *assertion.Verified) {
				if got.Subject != "alice@example.org" {
					t.Errorf("Subject %q, want the whole signed NameID", got.Subject)
				}
			}},
		{"no attributes", k.idp.Sign(t, good(func(a *samltest.Assertion) { a.Attributes = nil })),
			func(t *testing.T, got *assertion.Verified) {
				if got.Claims == nil || len(got.Claims) != 0 {
					t.Errorf("Claims %v, want empty", got.Claims)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), c.raw, client, now)
			if err != nil {
				t.Fatalf("%v (cause %v)", err, errorsUnwrap(err))
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func padded(s string) string {
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

func errorsUnwrap(err error) error {
	if oe := oauth.AsError(err); oe != nil {
		return oe.Unwrap()
	}
	return nil
}

// TestVerifyRefuses is the issue's list of bad assertions, and more: each
// must be refused with invalid_grant by the check meant for it.
func TestVerifyRefuses(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{MaxSize: 16 << 10})
	client := newClient(t)
	sign := func(mut func(*samltest.Assertion)) string { return k.idp.Sign(t, good(mut)) }
	hostile := func(h samltest.Hostile) string {
		return sign(func(a *samltest.Assertion) { a.Hostile = h })
	}
	xml := func(s string) string { return samltest.Encode([]byte(s)) }
	signedXML := string(k.idp.XML(t, good(nil)))

	cases := []struct {
		name   string
		raw    string
		client *store.Client
		desc   string
	}{
		// Times.
		{"expired", sign(func(a *samltest.Assertion) {
			a.NotOnOrAfter, a.SubjectNotOnOrAfter = now.Add(-2*time.Minute), now.Add(-2*time.Minute)
		}), nil, descExpired},
		{"expired exactly at NotOnOrAfter plus skew", sign(func(a *samltest.Assertion) {
			a.NotOnOrAfter = now.Add(-time.Minute)
		}), nil, descExpired},
		{"confirmation expired", sign(func(a *samltest.Assertion) { a.SubjectNotOnOrAfter = now.Add(-2 * time.Minute) }), nil, descExpired},
		{"not yet valid", sign(func(a *samltest.Assertion) { a.NotBefore = now.Add(2 * time.Minute) }), nil, descNotYetValid},
		{"too far ahead", sign(func(a *samltest.Assertion) {
			a.NotOnOrAfter, a.SubjectNotOnOrAfter = now.Add(2*time.Hour), now.Add(2*time.Hour)
		}), nil, descTooLong},
		{"confirmation too far ahead", sign(func(a *samltest.Assertion) {
			a.NoNotOnOrAfter, a.SubjectNotOnOrAfter = true, now.Add(2*time.Hour)
		}), nil, descTooLong},
		{"issued in the future", sign(func(a *samltest.Assertion) { a.IssueInstant = now.Add(10 * time.Minute) }), nil, descIssuedFuture},

		// Audience and conditions.
		{"wrong audience", sign(func(a *samltest.Assertion) { a.Audiences = []string{"https://rp.example"} }), nil, descAudience},
		{"second restriction without us", sign(func(a *samltest.Assertion) { a.MoreRestrictions = [][]string{{"https://rp.example"}} }), nil, descAudience},
		{"no audience restriction", sign(func(a *samltest.Assertion) { a.Audiences = nil }), nil, descAudience},
		{"unknown condition", sign(func(a *samltest.Assertion) { a.ExtraConditions = []string{"Condition"} }), nil, descCondition},

		// Subject confirmation.
		{"wrong recipient", sign(func(a *samltest.Assertion) { a.Recipient = "https://op.example.com/authorize" }), nil, descConfirmation},
		{"no recipient", sign(func(a *samltest.Assertion) { a.Recipient = "" }), nil, descConfirmation},
		{"confirmation without NotOnOrAfter", sign(func(a *samltest.Assertion) { a.NoSubjectNotOnOrAfter = true }), nil, descConfirmation},
		{"non-bearer confirmation", sign(func(a *samltest.Assertion) { a.Method = samltest.HolderOfKey }), nil, descConfirmation},

		// Issuer and signature.
		{"wrong issuer", sign(func(a *samltest.Assertion) { a.Issuer = "https://idp.evil.example" }), nil, descIssuer},
		{"empty issuer", sign(func(a *samltest.Assertion) { a.Issuer = "" }), nil, descIssuer},
		{"wrong certificate", k.stranger.Sign(t, good(nil)), nil, descSignature},
		{"wrong certificate, no KeyInfo", k.stranger.Sign(t, good(func(a *samltest.Assertion) { a.NoKeyInfo = true })), nil, descSignature},
		{"bad signature", hostile(samltest.BadSignatureValue), nil, descSignature},
		{"tampered NameID", hostile(samltest.TamperNameID), nil, descSignature},
		{"unsigned", hostile(samltest.Unsigned), nil, descUnsigned},
		{"SHA-1", hostile(samltest.SHA1), nil, descSignature},
		{"missing ID", sign(func(a *samltest.Assertion) { a.NoID = true }), nil, descNoID},
		{"empty NameID", sign(func(a *samltest.Assertion) { a.NameID = "" }), nil, descSubject},

		// Signature wrapping.
		{"second unsigned assertion beside the signed one", hostile(samltest.WrapSibling), nil, descShape},
		{"second unsigned assertion inside the signature", hostile(samltest.WrapInSignature), nil, descShape},
		{"signed assertion moved inside an unsigned one", hostile(samltest.SignedInsideUnsigned), nil, descShape},
		{"signed Response", hostile(samltest.SignedResponse), nil, descShape},
		{"reference to another ID", xml(strings.Replace(signedXML, `URI="#`, `URI="#x`, 1)), nil, descSignature},
		{"signature moved into the subject", xml(moveSignatureIntoSubject(t, signedXML)), nil, descSignature},
		{"namespaced second ID attribute", xml(strings.Replace(signedXML, ` ID="`, ` xmlns:x="urn:x" x:ID="_evil" ID="`, 1)), nil, descShape},
		{"duplicate attribute", xml(strings.Replace(signedXML, ` Version="2.0"`, ` Version="2.0" Version="2.0"`, 1)), nil, descShape},

		// DTDs and entities.
		{"DOCTYPE", hostile(samltest.Doctype), nil, descDTD},
		{"XXE", hostile(samltest.XXE), nil, descDTD},
		{"billion laughs", xml(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&lol2;</saml:Assertion>`), nil, descDTD},
		{"ENTITY without DOCTYPE", xml(`<!ENTITY x "y"><a/>`), nil, descDTD},
		{"UTF-16", samltest.Encode(utf16(signedXML)), nil, descMalformed},
		{"declared encoding", xml(strings.Replace(signedXML, `encoding="UTF-8"`, `encoding="ISO-8859-1"`, 1)), nil, descMalformed},

		// Encoding, size and shape.
		{"oversized", sign(func(a *samltest.Assertion) {
			a.Attributes = map[string][]string{"big": {strings.Repeat("x", 20<<10)}}
		}), nil, descTooLarge},
		{"oversized before decoding", strings.Repeat("!", 40<<10), nil, descTooLarge},
		{"standard base64", base64.StdEncoding.EncodeToString([]byte(signedXML + "\n<!-- ??>>>???>>> -->")), nil, descEncoding},
		{"line-wrapped", wrapLines(samltest.Encode([]byte(signedXML))), nil, descEncoding},
		{"bad padding", samltest.Encode([]byte(signedXML)) + "===", nil, descEncoding},
		{"raw XML", signedXML, nil, descEncoding},
		{"empty", "", nil, descMalformed},
		{"not XML", xml("hello"), nil, descMalformed},
		{"truncated XML", xml(signedXML[:len(signedXML)/2]), nil, descMalformed},
		{"two roots", xml(signedXML + "<a/>"), nil, descMalformed},
		{"processing instruction", xml(strings.Replace(signedXML, "?>", "?><?evil x?>", 1)), nil, descShape},
		{"other root", xml(`<a xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="x"/>`), nil, descShape},
		{"Assertion in another namespace", xml(strings.ReplaceAll(signedXML, samltest.NSAssertion, "urn:oasis:names:tc:SAML:1.0:assertion")), nil, descShape},

		// Self-issued.
		{"self-issued for someone else", k.client.Sign(t, selfIssued(func(a *samltest.Assertion) { a.NameID = "alice" })), nil, descSelfSubject},
		{"self-issued without x5c", k.client.Sign(t, selfIssued(nil)), &store.Client{ID: clientID}, descNoClientCerts},
		{"self-issued signed by the IdP", k.idp.Sign(t, selfIssued(nil)), nil, descSignature},
		{"another client's assertion", k.client.Sign(t, selfIssued(nil)),
			&store.Client{ID: "client-2", Metadata: store.ClientMetadata{JWKS: k.client.JWKS(t)}}, descIssuer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := c.client
			if cl == nil {
				cl = client
			}
			got, err := v.Verify(t.Context(), c.raw, cl, now)
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			wantInvalidGrant(t, err, c.desc)
			t.Logf("cause: %v", errorsUnwrap(err))
		})
	}
}

// moveSignatureIntoSubject moves the signature from the assertion into its
// Subject, where it still references the assertion.
func moveSignatureIntoSubject(t *testing.T, s string) string {
	t.Helper()
	i, j := strings.Index(s, "<ds:Signature"), strings.Index(s, "</ds:Signature>")+len("</ds:Signature>")
	if i < 0 || j < i {
		t.Fatal("no signature")
	}
	sig := s[i:j]
	s = s[:i] + s[j:]
	return strings.Replace(s, "<saml:Subject>", "<saml:Subject>"+sig, 1)
}

func utf16(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

func wrapLines(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

// TestVerifyTrustedIssuerNamedLikeClient: a configured IdP's entity ID
// that is also a client's ID stays the IdP's; the client cannot sign as it.
func TestVerifyTrustedIssuerNamedLikeClient(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{Issuers: []TrustedIssuer{{Issuer: clientID, Certificates: []*x509.Certificate{k.idp.Cert}}}})
	_, err := v.Verify(t.Context(), k.client.Sign(t, selfIssued(nil)), newClient(t), now)
	wantInvalidGrant(t, err, descSignature)
	got, err := v.Verify(t.Context(), k.idp.Sign(t, selfIssued(nil)), newClient(t), now)
	if err != nil {
		t.Fatal(err)
	}
	if got.SelfIssued {
		t.Error("an assertion signed by the trusted issuer counted as self-issued")
	}
}

// TestVerifyCertificateValidity: goxmldsig checks the certificate at the
// verifier's clock, not the machine's.
func TestVerifyCertificateValidity(t *testing.T) {
	old := samltest.NewIdPValidity(t, "old", now.Add(-48*time.Hour), now.Add(-time.Hour))
	v := newVerifier(t, Options{Issuers: []TrustedIssuer{{Issuer: idpEntity, Certificates: []*x509.Certificate{old.Cert}}}})
	raw := old.Sign(t, good(nil))
	_, err := v.Verify(t.Context(), raw, newClient(t), now)
	wantInvalidGrant(t, err, descSignature)
	// The same assertion, checked when both it and the certificate were
	// current, passes.
	then := now.Add(-2 * time.Hour)
	raw = old.Sign(t, good(func(a *samltest.Assertion) { a.Now = then }))
	if _, err := v.Verify(t.Context(), raw, newClient(t), then); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyConcurrent verifies one assertion from many goroutines: the
// Verifier keeps no per-call state (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{})
	client := newClient(t)
	raw := k.idp.Sign(t, good(nil))
	bad := k.idp.Sign(t, good(func(a *samltest.Assertion) { a.Hostile = samltest.TamperNameID }))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 16 {
		wg.Go(func() {
			r := raw
			if i%2 == 1 {
				r = bad
			}
			got, err := v.Verify(t.Context(), r, client, now)
			switch {
			case i%2 == 0 && (err != nil || got.Subject != "alice@example.org"):
				errs <- err
			case i%2 == 1 && !errorsIsInvalidGrant(err):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent verify: %v", err)
	}
}

func errorsIsInvalidGrant(err error) bool {
	oe := oauth.AsError(err)
	return oe != nil && oe.Code == oauth.ErrCodeInvalidGrant
}

func TestVerifyNeedsClientAndLiveContext(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, Options{})
	raw := k.idp.Sign(t, good(nil))
	if _, err := v.Verify(t.Context(), raw, nil, now); err == nil || oauth.AsError(err) != nil {
		t.Errorf("nil client: %v, want a plain error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := v.Verify(ctx, raw, newClient(t), now); err == nil || oauth.AsError(err) != nil {
		t.Errorf("cancelled context: %v, want a plain error", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	k := keys(t)
	certs := []*x509.Certificate{k.idp.Cert}
	ok := Options{Audiences: []string{tokenURL}, Recipients: []string{tokenURL}}
	cases := []struct {
		name string
		mut  func(*Options)
		want string
	}{
		{"no audiences", func(o *Options) { o.Audiences = nil }, "no audiences"},
		{"empty audience", func(o *Options) { o.Audiences = []string{""} }, "empty audience"},
		{"no recipients", func(o *Options) { o.Recipients = nil }, "no recipients"},
		{"empty recipient", func(o *Options) { o.Recipients = []string{""} }, "empty recipient"},
		{"empty issuer", func(o *Options) { o.Issuers = []TrustedIssuer{{Certificates: certs}} }, "empty issuer"},
		{"issuer twice", func(o *Options) {
			o.Issuers = []TrustedIssuer{{Issuer: idpEntity, Certificates: certs}, {Issuer: idpEntity, Certificates: certs}}
		}, "listed twice"},
		{"issuer without certificates", func(o *Options) { o.Issuers = []TrustedIssuer{{Issuer: idpEntity}} }, "no certificates"},
		{"nil certificate", func(o *Options) {
			o.Issuers = []TrustedIssuer{{Issuer: idpEntity, Certificates: []*x509.Certificate{nil}}}
		}, "nil certificate"},
		{"negative skew", func(o *Options) { o.MaxSkew = -time.Second }, "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.mut(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: %v, want an error containing %q", err, c.want)
			}
		})
	}
	v, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if v.MaxSkew() != DefaultMaxSkew || v.maxAhead != DefaultMaxAhead || v.maxSize != DefaultMaxSize {
		t.Errorf("defaults: skew %s ahead %s size %d", v.MaxSkew(), v.maxAhead, v.maxSize)
	}
}

// BenchmarkVerify measures one honest third-party assertion, and one that
// fails the signature check against both configured certificates (the
// most an unauthenticated-content attacker can make the verifier do).
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	v := newVerifier(b, Options{})
	client := newClient(b)
	honest := k.idp.Sign(b, good(nil))
	forged := k.stranger.Sign(b, good(func(a *samltest.Assertion) { a.NoKeyInfo = true }))
	b.Run("honest", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(b.Context(), honest, client, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forged", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(b.Context(), forged, client, now); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
