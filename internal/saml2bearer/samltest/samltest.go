// Package samltest builds SAML 2.0 bearer assertions for tests: a signing
// identity with a self-signed certificate, assertions signed with
// goxmldsig as an IdP would sign them (enveloped signature, exclusive
// canonicalisation, RSA-SHA256, the certificate in KeyInfo), and the
// hostile variants a verifier must refuse, each returned in the base64url
// form a client sends as the "assertion" parameter (RFC 7522 §2.1).
//
// It is for tests only: import it from _test.go files.
package samltest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Namespaces and values of SAML core and profiles.
const (
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	// Bearer is the bearer subject confirmation method (SAML profiles §3.3).
	Bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	// HolderOfKey is another confirmation method, which RFC 7522 does not use.
	HolderOfKey = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
	// Unspecified is the NameID format used when none is given.
	Unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

// IdP is a signing identity: an RSA key and its self-signed certificate.
type IdP struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewIdP generates a 2048-bit RSA key and a certificate for it named name,
// valid from 2000 to 2100 (goxmldsig checks the certificate's validity at
// the verifier's clock, which tests often set).
func NewIdP(tb testing.TB, name string) *IdP {
	tb.Helper()
	return NewIdPValidity(tb, name, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
}

// NewIdPValidity is NewIdP with the certificate valid from notBefore to
// notAfter.
func NewIdPValidity(tb testing.TB, name string, notBefore, notAfter time.Time) *IdP {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &IdP{Key: key, Cert: cert}
}

// CertPEM returns the certificate as a PEM CERTIFICATE block, as an
// operator's certificate_file holds it.
func (p *IdP) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Cert.Raw})
}

// JWKS returns a JWK set with the public key and its certificate in "x5c"
// (RFC 7517 §4.7), as a client registers it in "jwks" to sign self-issued
// assertions.
func (p *IdP) JWKS(tb testing.TB) json.RawMessage {
	tb.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	raw, err := json.Marshal(map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"kid": "saml",
		"n":   b64(p.Key.N.Bytes()),
		"e":   b64(big.NewInt(int64(p.Key.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(p.Cert.Raw)},
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// Hostile selects a way to spoil an assertion.
type Hostile int

const (
	// Honest is a correctly signed assertion.
	Honest Hostile = iota
	// Unsigned has no signature.
	Unsigned
	// TamperNameID changes the NameID to Forged after signing.
	TamperNameID
	// CommentInNameID splits the signed NameID with a comment after
	// signing. Exclusive canonicalisation drops comments, so the signature
	// stays valid; a verifier that stops reading text at the comment sees
	// a shorter name.
	CommentInNameID
	// BadSignatureValue flips a bit of the signature value.
	BadSignatureValue
	// WrapSibling puts an unsigned assertion for Forged before the signed
	// one, both inside a samlp:Response.
	WrapSibling
	// WrapInSignature hides an unsigned assertion for Forged in a
	// ds:Object of the signed assertion's signature, which the enveloped
	// transform removes before digesting: the signature stays valid.
	WrapInSignature
	// SignedInsideUnsigned makes the root an unsigned assertion for
	// Forged with the same ID, holding the signed one in its saml:Advice.
	SignedInsideUnsigned
	// SignedResponse wraps the signed assertion in a samlp:Response that
	// is signed too.
	SignedResponse
	// Doctype puts a harmless document type declaration before the signed
	// assertion; the signature stays valid.
	Doctype
	// XXE declares an external entity and uses it as the NameID.
	XXE
	// SHA1 signs with rsa-sha1 and a SHA-1 digest.
	SHA1
)

// Assertion describes the assertion to build. Zero values take defaults
// relative to Now.
type Assertion struct {
	// Now is the time the defaults are relative to; zero: time.Now().
	Now time.Time
	// ID is the Assertion ID; "" generates one. NoID leaves it out (the
	// signature then references the whole document, URI="").
	ID   string
	NoID bool
	// Issuer is the <Issuer>.
	Issuer string
	// NameID and NameIDFormat (default Unspecified) make the <Subject>.
	NameID       string
	NameIDFormat string
	// Audiences go into one AudienceRestriction; MoreRestrictions each add
	// another.
	Audiences        []string
	MoreRestrictions [][]string
	// ExtraConditions are the local names of further condition elements
	// in the SAML namespace, e.g. "OneTimeUse".
	ExtraConditions []string
	// Recipient is the SubjectConfirmationData Recipient; Method the
	// confirmation method (default Bearer).
	Recipient string
	Method    string
	// IssueInstant defaults to Now. NotBefore (Conditions) is left out
	// when zero. NotOnOrAfter (Conditions) and SubjectNotOnOrAfter
	// (SubjectConfirmationData) default to Now + 5 min; NoNotOnOrAfter and
	// NoSubjectNotOnOrAfter leave them out.
	IssueInstant          time.Time
	NotBefore             time.Time
	NotOnOrAfter          time.Time
	SubjectNotOnOrAfter   time.Time
	NoNotOnOrAfter        bool
	NoSubjectNotOnOrAfter bool
	// NoKeyInfo leaves the certificate out of the signature, as some IdPs
	// do; the verifier must then find it among the configured ones.
	NoKeyInfo bool
	// Attributes go into an AttributeStatement, each value an xs:string.
	Attributes map[string][]string
	// Hostile spoils the result; Forged is the NameID the forged content
	// claims (default "admin").
	Hostile Hostile
	Forged  string
}

// Sign builds a, signs it with p (unless a.Hostile says otherwise) and
// returns it base64url-encoded.
func (p *IdP) Sign(tb testing.TB, a Assertion) string {
	tb.Helper()
	return Encode(p.XML(tb, a))
}

// Encode returns xml in the form of the "assertion" parameter: base64url
// without padding (RFC 7522 §2.1).
func Encode(xml []byte) string { return base64.RawURLEncoding.EncodeToString(xml) }

// XML builds a and signs it with p (unless a.Hostile says otherwise).
func (p *IdP) XML(tb testing.TB, a Assertion) []byte {
	tb.Helper()
	a = defaults(a)
	el := build(a)
	forged := func() *etree.Element {
		f := el.Copy()
		f.FindElement("./Subject/NameID").SetText(a.Forged)
		return f
	}
	switch a.Hostile {
	case Unsigned:
		return serialize(tb, el, "")
	case SHA1:
		return serialize(tb, p.sign(tb, el, crypto.SHA1), "")
	}
	signed := p.sign(tb, el, crypto.SHA256)
	if a.NoKeyInfo {
		// The enveloped transform removes the whole signature before
		// digesting, so dropping KeyInfo leaves the signature valid.
		sig := signed.FindElement("./Signature")
		sig.RemoveChild(sig.FindElement("./KeyInfo"))
	}
	switch a.Hostile {
	case TamperNameID:
		signed.FindElement("./Subject/NameID").SetText(a.Forged)
	case CommentInNameID:
		nameID := signed.FindElement("./Subject/NameID")
		half := len(a.NameID) / 2
		nameID.SetText(a.NameID[:half])
		nameID.CreateComment("")
		nameID.CreateText(a.NameID[half:])
	case BadSignatureValue:
		sv := signed.FindElement("./Signature/SignatureValue")
		raw, err := base64.StdEncoding.DecodeString(sv.Text())
		if err != nil {
			tb.Fatal(err)
		}
		raw[len(raw)/2] ^= 1
		sv.SetText(base64.StdEncoding.EncodeToString(raw))
	case WrapSibling:
		f := forged()
		f.CreateAttr("ID", "_forged"+a.ID)
		resp := response(a)
		resp.AddChild(f)
		resp.AddChild(signed)
		return serialize(tb, resp, "")
	case WrapInSignature:
		f := forged()
		f.CreateAttr("ID", "_forged"+a.ID)
		obj := signed.FindElement("./Signature").CreateElement("ds:Object")
		obj.AddChild(f)
	case SignedInsideUnsigned:
		f := forged()
		f.CreateElement("saml:Advice").AddChild(signed)
		return serialize(tb, f, "")
	case SignedResponse:
		resp := response(a)
		resp.AddChild(signed)
		return serialize(tb, p.sign(tb, resp, crypto.SHA256), "")
	case Doctype:
		return serialize(tb, signed, `<!DOCTYPE saml:Assertion>`)
	case XXE:
		signed.FindElement("./Subject/NameID").SetText("XXE-PLACEHOLDER")
		out := serialize(tb, signed, `<!DOCTYPE saml:Assertion [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`)
		return bytes.Replace(out, []byte("XXE-PLACEHOLDER"), []byte("&xxe;"), 1)
	}
	return serialize(tb, signed, "")
}

func defaults(a Assertion) Assertion {
	if a.Now.IsZero() {
		a.Now = time.Now()
	}
	if a.ID == "" && !a.NoID {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		a.ID = "_" + hex.EncodeToString(b)
	}
	if a.NameIDFormat == "" {
		a.NameIDFormat = Unspecified
	}
	if a.Method == "" {
		a.Method = Bearer
	}
	if a.IssueInstant.IsZero() {
		a.IssueInstant = a.Now
	}
	if a.NotOnOrAfter.IsZero() && !a.NoNotOnOrAfter {
		a.NotOnOrAfter = a.Now.Add(5 * time.Minute)
	}
	if a.SubjectNotOnOrAfter.IsZero() && !a.NoSubjectNotOnOrAfter {
		a.SubjectNotOnOrAfter = a.Now.Add(5 * time.Minute)
	}
	if a.Forged == "" {
		a.Forged = "admin"
	}
	return a
}

func xsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// build makes the unsigned assertion, in the element order of the SAML
// schema (SAML core §2.3.3).
func build(a Assertion) *etree.Element {
	el := etree.NewElement("saml:Assertion")
	el.CreateAttr("xmlns:saml", NSAssertion)
	el.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	el.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	if !a.NoID {
		el.CreateAttr("ID", a.ID)
	}
	el.CreateAttr("Version", "2.0")
	el.CreateAttr("IssueInstant", xsTime(a.IssueInstant))
	el.CreateElement("saml:Issuer").SetText(a.Issuer)

	subj := el.CreateElement("saml:Subject")
	nameID := subj.CreateElement("saml:NameID")
	nameID.CreateAttr("Format", a.NameIDFormat)
	nameID.SetText(a.NameID)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", a.Method)
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	if a.Recipient != "" {
		scd.CreateAttr("Recipient", a.Recipient)
	}
	if !a.SubjectNotOnOrAfter.IsZero() {
		scd.CreateAttr("NotOnOrAfter", xsTime(a.SubjectNotOnOrAfter))
	}

	cond := el.CreateElement("saml:Conditions")
	if !a.NotBefore.IsZero() {
		cond.CreateAttr("NotBefore", xsTime(a.NotBefore))
	}
	if !a.NotOnOrAfter.IsZero() {
		cond.CreateAttr("NotOnOrAfter", xsTime(a.NotOnOrAfter))
	}
	for _, auds := range append([][]string{a.Audiences}, a.MoreRestrictions...) {
		if len(auds) == 0 {
			continue
		}
		ar := cond.CreateElement("saml:AudienceRestriction")
		for _, aud := range auds {
			ar.CreateElement("saml:Audience").SetText(aud)
		}
	}
	for _, name := range a.ExtraConditions {
		cond.CreateElement("saml:" + name)
	}

	authn := el.CreateElement("saml:AuthnStatement")
	authn.CreateAttr("AuthnInstant", xsTime(a.IssueInstant))
	authn.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")

	if len(a.Attributes) > 0 {
		st := el.CreateElement("saml:AttributeStatement")
		for _, name := range slices.Sorted(maps.Keys(a.Attributes)) {
			attr := st.CreateElement("saml:Attribute")
			attr.CreateAttr("Name", name)
			attr.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
			for _, v := range a.Attributes[name] {
				av := attr.CreateElement("saml:AttributeValue")
				av.CreateAttr("xsi:type", "xs:string")
				av.SetText(v)
			}
		}
	}
	return el
}

// response makes an empty samlp:Response for the wrapping variants.
func response(a Assertion) *etree.Element {
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", NSProtocol)
	r.CreateAttr("xmlns:saml", NSAssertion)
	r.CreateAttr("ID", "_response"+a.ID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", xsTime(a.IssueInstant))
	r.CreateElement("saml:Issuer").SetText(a.Issuer)
	return r
}

// sign signs el with an enveloped signature and moves the signature to
// where the SAML schema puts it, right after <Issuer> (the enveloped
// transform removes it wherever it is).
func (p *IdP) sign(tb testing.TB, el *etree.Element, hash crypto.Hash) *etree.Element {
	tb.Helper()
	ctx, err := dsig.NewSigningContext(p.Key, [][]byte{p.Cert.Raw})
	if err != nil {
		tb.Fatal(err)
	}
	ctx.Hash = hash
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		tb.Fatal(err)
	}
	sig := signed.Child[len(signed.Child)-1]
	signed.RemoveChildAt(len(signed.Child) - 1)
	signed.InsertChildAt(1, sig)
	return signed
}

func serialize(tb testing.TB, root *etree.Element, doctype string) []byte {
	tb.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(root)
	out, err := doc.WriteToBytes()
	if err != nil {
		tb.Fatal(err)
	}
	return append([]byte(`<?xml version="1.0" encoding="UTF-8"?>`+doctype), out...)
}
