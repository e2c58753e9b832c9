package saml2bearer

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = dsig.Namespace
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	// cmBearer is the bearer confirmation method (SAML profiles §3.3).
	cmBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Signature and digest algorithms accepted on an assertion. SHA-1 is not
// among them: a SHA-1 digest lets whoever finds a collision swap signed
// content. (goxmldsig would accept it.)
var (
	signatureMethods = []string{
		dsig.RSASHA256SignatureMethod, dsig.RSASHA384SignatureMethod, dsig.RSASHA512SignatureMethod,
		dsig.ECDSASHA256SignatureMethod, dsig.ECDSASHA384SignatureMethod, dsig.ECDSASHA512SignatureMethod,
	}
	digestMethods = []string{
		"http://www.w3.org/2001/04/xmlenc#sha256",
		"http://www.w3.org/2001/04/xmldsig-more#sha384",
		"http://www.w3.org/2001/04/xmlenc#sha512",
	}
)

// Descriptions of the invalid_grant errors. They name the check that failed,
// never a key, a certificate or a parser message.
const (
	descTooLarge      = "assertion too large"
	descEncoding      = "assertion is not base64url-encoded"
	descDTD           = "assertion must not contain a DTD"
	descMalformed     = "assertion is not well-formed XML"
	descShape         = "assertion must be a single SAML 2.0 Assertion"
	descNoID          = "assertion has no ID"
	descUnsigned      = "assertion is not signed"
	descSignature     = "assertion signature is not valid"
	descIssuer        = "assertion issuer is not accepted"
	descNoClientCerts = "client has no registered x5c certificate for self-issued assertions"
	descSelfSubject   = "self-issued assertion must name the client as its subject"
	descSubject       = "assertion has no subject NameID"
	descTimes         = "assertion times are malformed"
	descIssuedFuture  = "assertion issued in the future"
	descNotYetValid   = "assertion is not yet valid"
	descExpired       = "assertion has expired"
	descTooLong       = "assertion expiry is too far ahead"
	descConditions    = "assertion has no conditions"
	descCondition     = "assertion has an unsupported condition"
	descAudience      = "assertion audience is not accepted"
	descConfirmation  = "assertion has no acceptable bearer subject confirmation"
)

func invalid(desc string, cause error) error {
	return oauth.InvalidGrant(desc).WithCause(cause)
}

// check is the state of one Verify call while its steps run.
type check struct {
	v      *Verifier
	client *store.Client
	now    time.Time

	xml        []byte
	root       *etree.Element // the Assertion as sent: for choosing keys only
	id         string
	issuer     string
	certs      []*x509.Certificate
	selfIssued bool
	signed     *etree.Element // the Assertion as goxmldsig validated it
	out        *assertion.Verified
}

// step is one named check of Verify. Steps up to "signature" look at the
// document as sent and only decide whether to go on; the later ones read
// the validated element and build the result.
type step struct {
	name string
	run  func(c *check, raw string) error
}

func steps() []step {
	return []step{
		{"size", stepSize},
		{"decode", stepDecode},
		{"dtd", stepDTD},
		{"parse", stepParse},
		{"signature_shape", stepSignatureShape},
		{"issuer", stepIssuer},
		{"signature", stepSignature},
		{"content", stepContent},
		{"conditions", stepConditions},
		{"confirmation", stepConfirmation},
		{"attributes", stepAttributes},
	}
}

// stepSize refuses an oversized assertion before decoding it.
func stepSize(c *check, raw string) error {
	if len(raw) > base64.RawURLEncoding.EncodedLen(c.v.maxSize)+2 {
		return invalid(descTooLarge, fmt.Errorf("%d encoded bytes", len(raw)))
	}
	return nil
}

// stepDecode decodes base64url (RFC 7522 §2.1, RFC 4648 §5): no line
// breaks (which Go's decoder would skip silently), padding tolerated but
// consistent, padding bits zero.
func stepDecode(c *check, raw string) error {
	if strings.ContainsAny(raw, "\r\n") {
		return invalid(descEncoding, errors.New("line break"))
	}
	s := raw
	if strings.HasSuffix(s, "=") {
		if len(s)%4 != 0 {
			return invalid(descEncoding, errors.New("bad padding"))
		}
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return invalid(descEncoding, err)
	}
	if len(b) > c.v.maxSize {
		return invalid(descTooLarge, fmt.Errorf("%d decoded bytes", len(b)))
	}
	c.xml = b
	return nil
}

// stepDTD refuses DTDs and anything that could hide one from this scan,
// before any parser sees the bytes: no document type declaration means no
// entity declarations, hence no external (XXE) or recursive expansion.
func stepDTD(c *check, _ string) error {
	if !utf8.Valid(c.xml) || bytes.IndexByte(c.xml, 0) >= 0 {
		// UTF-16 or another encoding could spell "<!DOCTYPE" in bytes
		// this scan does not see.
		return invalid(descMalformed, errors.New("not UTF-8"))
	}
	rest := c.xml
	for {
		i := bytes.Index(rest, []byte("<!"))
		if i < 0 {
			return nil
		}
		rest = rest[i+2:]
		if !bytes.HasPrefix(rest, []byte("--")) && !bytes.HasPrefix(rest, []byte("[CDATA[")) {
			return invalid(descDTD, errors.New("markup declaration"))
		}
	}
}

// stepParse parses the XML and checks the document's shape: one root, the
// Assertion, in the SAML namespace, with an ID, and no second Assertion,
// directive, processing instruction or duplicate attribute anywhere.
func stepParse(c *check, _ string) error {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{
		CharsetReader: func(charset string, _ io.Reader) (io.Reader, error) {
			// encoding/xml handles UTF-8 itself and asks only for others.
			return nil, fmt.Errorf("encoding %q", charset)
		},
		ValidateInput:          true,
		PreserveDuplicateAttrs: true,
		MaxDepth:               maxDepth,
	}
	if err := doc.ReadFromBytes(c.xml); err != nil {
		return invalid(descMalformed, err)
	}
	var roots []*etree.Element
	for i, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Element:
			roots = append(roots, t)
		case *etree.ProcInst:
			if t.Target != "xml" || i != 0 {
				return invalid(descShape, errors.New("processing instruction"))
			}
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return invalid(descMalformed, errors.New("text outside the root element"))
			}
		case *etree.Comment:
		default:
			return invalid(descShape, fmt.Errorf("%T in the document", tok))
		}
	}
	if len(roots) != 1 {
		return invalid(descShape, fmt.Errorf("%d root elements", len(roots)))
	}
	root := roots[0]
	if !is(root, nsAssertion, "Assertion") {
		return invalid(descShape, fmt.Errorf("root element %s", root.FullTag()))
	}
	assertions := 0
	if err := walk(root, func(el *etree.Element) error {
		if is(el, nsAssertion, "Assertion") {
			assertions++
		}
		seen := make(map[[2]string]bool, len(el.Attr))
		for _, a := range el.Attr {
			k := [2]string{a.Space, a.Key}
			if seen[k] {
				return fmt.Errorf("duplicate attribute %s on %s", a.FullKey(), el.FullTag())
			}
			seen[k] = true
		}
		return nil
	}); err != nil {
		return invalid(descShape, err)
	}
	if assertions != 1 {
		return invalid(descShape, fmt.Errorf("%d Assertion elements", assertions))
	}
	id, err := assertionID(root)
	if err != nil {
		return err
	}
	c.root, c.id = root, id
	return nil
}

// assertionID returns the Assertion's ID, the attribute goxmldsig matches
// the signature's reference against. An attribute named ID in some
// namespace would match too (etree's SelectAttr ignores the prefix), so
// there must be exactly one, without prefix.
func assertionID(el *etree.Element) (string, error) {
	id, n := "", 0
	for _, a := range el.Attr {
		if a.Key == dsig.DefaultIdAttr {
			n++
			if a.Space == "" {
				id = a.Value
			}
		}
	}
	switch {
	case n > 1:
		return "", invalid(descShape, errors.New("more than one ID attribute"))
	case id == "":
		return "", invalid(descNoID, nil)
	}
	return id, nil
}

// stepSignatureShape checks what SAML core §5.4 asks of the signature and
// what goxmldsig leaves to its caller: exactly one ds:Signature in the
// assertion, a direct child, with one Reference to the assertion's own ID
// and algorithms from the allow-list. goxmldsig then verifies it.
func stepSignatureShape(c *check, _ string) error {
	var sigs []*etree.Element
	_ = walk(c.root, func(el *etree.Element) error {
		if is(el, nsDSig, "Signature") {
			sigs = append(sigs, el)
		}
		return nil
	})
	switch {
	case len(sigs) == 0:
		return invalid(descUnsigned, nil)
	case len(sigs) > 1:
		return invalid(descSignature, fmt.Errorf("%d Signature elements", len(sigs)))
	case sigs[0].Parent() != c.root:
		return invalid(descSignature, errors.New("signature is not a child of the assertion"))
	}
	si, err := one(sigs[0], nsDSig, "SignedInfo")
	if err != nil {
		return invalid(descSignature, err)
	}
	sm, err := one(si, nsDSig, "SignatureMethod")
	if err != nil {
		return invalid(descSignature, err)
	}
	if alg := attr(sm, "Algorithm"); !slices.Contains(signatureMethods, alg) {
		return invalid(descSignature, fmt.Errorf("signature method %q", alg))
	}
	if n := len(si.ChildElements()); n != len(children(si, nsDSig, "CanonicalizationMethod"))+
		len(children(si, nsDSig, "SignatureMethod"))+len(children(si, nsDSig, "Reference")) {
		return invalid(descSignature, errors.New("unexpected element in SignedInfo"))
	}
	ref, err := one(si, nsDSig, "Reference")
	if err != nil {
		return invalid(descSignature, err)
	}
	if uri := attr(ref, "URI"); uri != "#"+c.id {
		return invalid(descSignature, fmt.Errorf("reference %q does not name the assertion", uri))
	}
	dm, err := one(ref, nsDSig, "DigestMethod")
	if err != nil {
		return invalid(descSignature, err)
	}
	if alg := attr(dm, "Algorithm"); !slices.Contains(digestMethods, alg) {
		return invalid(descSignature, fmt.Errorf("digest method %q", alg))
	}
	return nil
}

// stepIssuer chooses the certificates from the issuer the assertion claims.
// Nothing else is read from the unvalidated document; stepContent checks
// that the signed Issuer is the same.
func stepIssuer(c *check, _ string) error {
	iss, err := oneText(c.root, nsAssertion, "Issuer")
	if err != nil || iss == "" {
		return invalid(descIssuer, err)
	}
	c.issuer = iss
	if certs, ok := c.v.issuers[iss]; ok {
		c.certs = certs
		return nil
	}
	if iss != c.client.ID {
		return invalid(descIssuer, fmt.Errorf("issuer %q", iss))
	}
	c.selfIssued = true
	certs, err := clientCertificates(c.client.Metadata.JWKS)
	if err != nil {
		return invalid(descNoClientCerts, err)
	}
	if len(certs) == 0 {
		return invalid(descNoClientCerts, nil)
	}
	c.certs = certs
	return nil
}

// clientCertificates returns the leaf certificate ("x5c"[0], RFC 7517
// §4.7) of each signing key in a client's registered JWK set. Registration
// (jose.ParseJWKS) has already checked that it holds the key's public key.
func clientCertificates(raw json.RawMessage) ([]*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var set struct {
		Keys []struct {
			Use    string   `json:"use"`
			KeyOps []string `json:"key_ops"`
			X5C    []string `json:"x5c"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("client jwks: %w", err)
	}
	var certs []*x509.Certificate
	for _, k := range set.Keys {
		if len(k.X5C) == 0 || (k.Use != "" && k.Use != "sig") ||
			(k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify")) {
			continue
		}
		der, err := base64.StdEncoding.DecodeString(k.X5C[0])
		if err != nil {
			return nil, fmt.Errorf("client jwks x5c: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("client jwks x5c: %w", err)
		}
		if len(certs) == maxCertificates {
			break
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// stepSignature has goxmldsig verify the enveloped signature against each
// candidate certificate in turn (with no KeyInfo it uses a store's
// certificate only when the store holds exactly one) and keeps the element
// it returns: the signed bytes, parsed again, without the signature.
// goxmldsig also refuses a certificate outside its validity period.
func stepSignature(c *check, _ string) error {
	var errs []error
	for _, cert := range c.certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.Clock = dsig.NewFakeClockAt(c.now)
		el, err := validate(vc, c.root)
		if err == nil {
			c.signed = el
			return nil
		}
		errs = append(errs, err)
	}
	return invalid(descSignature, errors.Join(errs...))
}

// validate calls goxmldsig, turning a panic on hostile input into an error:
// the input is the client's, the code is not ours.
func validate(vc *dsig.ValidationContext, el *etree.Element) (out *etree.Element, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("goxmldsig panicked: %v", r)
		}
	}()
	return vc.Validate(el)
}

// stepContent reads the envelope of the validated assertion: ID, issuer,
// version, issue instant and subject.
func stepContent(c *check, _ string) error {
	s := c.signed
	if s == nil || !is(s, nsAssertion, "Assertion") {
		return invalid(descShape, errors.New("validated element is not the assertion"))
	}
	id, err := assertionID(s)
	if err != nil {
		return err
	}
	if id != c.id {
		return invalid(descSignature, errors.New("validated ID differs"))
	}
	iss, err := oneText(s, nsAssertion, "Issuer")
	if err != nil || iss != c.issuer {
		return invalid(descIssuer, fmt.Errorf("validated issuer %q differs from %q: %v", iss, c.issuer, err))
	}
	if v := attr(s, "Version"); v != "2.0" {
		return invalid(descShape, fmt.Errorf("version %q", v))
	}
	issued, err := timeAttr(s, "IssueInstant", true)
	if err != nil {
		return err
	}
	if issued.After(c.now.Add(c.v.maxSkew)) {
		return invalid(descIssuedFuture, fmt.Errorf("issued at %s", issued))
	}
	subj, err := one(s, nsAssertion, "Subject")
	if err != nil {
		return invalid(descSubject, err)
	}
	nameID, err := one(subj, nsAssertion, "NameID")
	if err != nil {
		return invalid(descSubject, err)
	}
	name, err := text(nameID)
	if err != nil || name == "" {
		return invalid(descSubject, err)
	}
	if c.selfIssued && name != c.client.ID {
		return invalid(descSelfSubject, fmt.Errorf("subject %q", name))
	}
	c.out = &assertion.Verified{
		Issuer:        iss,
		Subject:       name,
		SubjectFormat: attr(nameID, "Format"),
		ID:            id,
		IssuedAt:      issued,
		SelfIssued:    c.selfIssued,
		Claims:        map[string]any{},
	}
	return nil
}

// stepConditions checks the Conditions element (RFC 7522 §3 items 2 and 10,
// SAML core §2.5.1): its validity window and its audience restrictions,
// each of which must name an accepted audience.
func stepConditions(c *check, _ string) error {
	cond, err := one(c.signed, nsAssertion, "Conditions")
	if err != nil {
		return invalid(descConditions, err)
	}
	nb, err := timeAttr(cond, "NotBefore", false)
	if err != nil {
		return err
	}
	nooa, err := timeAttr(cond, "NotOnOrAfter", false)
	if err != nil {
		return err
	}
	if err := c.checkWindow(nb, nooa); err != nil {
		return err
	}
	restrictions := 0
	for _, ch := range cond.ChildElements() {
		switch {
		case is(ch, nsAssertion, "AudienceRestriction"):
			restrictions++
			ok := false
			for _, a := range children(ch, nsAssertion, "Audience") {
				aud, err := text(a)
				if err != nil {
					return invalid(descAudience, err)
				}
				c.out.Audience = append(c.out.Audience, aud)
				ok = ok || c.v.audiences[aud]
			}
			if !ok {
				return invalid(descAudience, nil)
			}
		case is(ch, nsAssertion, "OneTimeUse"), is(ch, nsAssertion, "ProxyRestriction"):
			// OneTimeUse: every ID is single use anyway (the caller's
			// replay cache). ProxyRestriction limits assertions issued on
			// the strength of this one; a token endpoint issues none.
		default:
			return invalid(descCondition, fmt.Errorf("condition %s", ch.FullTag()))
		}
	}
	if restrictions == 0 {
		return invalid(descAudience, errors.New("no AudienceRestriction"))
	}
	c.out.NotBefore = nb
	c.out.ExpiresAt = nooa
	return nil
}

// checkWindow checks an optional NotBefore and NotOnOrAfter against the
// clock, allowing maxSkew either way.
func (c *check) checkWindow(nb, nooa time.Time) error {
	if !nb.IsZero() && nb.After(c.now.Add(c.v.maxSkew)) {
		return invalid(descNotYetValid, fmt.Errorf("not before %s", nb))
	}
	if !nooa.IsZero() && !c.now.Add(-c.v.maxSkew).Before(nooa) {
		return invalid(descExpired, fmt.Errorf("not on or after %s", nooa))
	}
	return nil
}

// stepConfirmation looks for a bearer SubjectConfirmation the assertion
// can be confirmed with (RFC 7522 §3 item 5, SAML profiles §4.1.4.2), and
// bounds the assertion's effective expiry.
func stepConfirmation(c *check, _ string) error {
	subj, _ := one(c.signed, nsAssertion, "Subject") // stepContent found it
	var errs []error
	var expiry time.Time
	for _, sc := range children(subj, nsAssertion, "SubjectConfirmation") {
		if attr(sc, "Method") != cmBearer {
			errs = append(errs, fmt.Errorf("method %q", attr(sc, "Method")))
			continue
		}
		nooa, err := c.confirm(sc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		expiry = nooa
		break
	}
	if expiry.IsZero() {
		// The description of the last failure names what was wrong when
		// there was a bearer confirmation that failed on time.
		desc := descConfirmation
		for _, e := range errs {
			if oe := oauth.AsError(e); oe != nil {
				desc = oe.Description
			}
		}
		return invalid(desc, errors.Join(errs...))
	}
	if c.out.ExpiresAt.IsZero() || expiry.Before(c.out.ExpiresAt) {
		c.out.ExpiresAt = expiry
	}
	if c.out.ExpiresAt.After(c.now.Add(c.v.maxAhead + c.v.maxSkew)) {
		return invalid(descTooLong, fmt.Errorf("expires %s", c.out.ExpiresAt))
	}
	return nil
}

// confirm checks one bearer SubjectConfirmation and returns its
// NotOnOrAfter.
func (c *check) confirm(sc *etree.Element) (time.Time, error) {
	data, err := one(sc, nsAssertion, "SubjectConfirmationData")
	if err != nil {
		return time.Time{}, err
	}
	if r := attr(data, "Recipient"); !c.v.recipients[r] {
		return time.Time{}, fmt.Errorf("recipient %q", r)
	}
	if attr(data, "NotOnOrAfter") == "" {
		return time.Time{}, errors.New("no NotOnOrAfter")
	}
	nooa, err := timeAttr(data, "NotOnOrAfter", true)
	if err != nil {
		return time.Time{}, err
	}
	nb, err := timeAttr(data, "NotBefore", false)
	if err != nil {
		return time.Time{}, err
	}
	if err := c.checkWindow(nb, nooa); err != nil {
		return time.Time{}, err
	}
	return nooa, nil
}

// stepAttributes copies the attributes of every AttributeStatement into
// Claims, name → []string.
func stepAttributes(c *check, _ string) error {
	for _, st := range children(c.signed, nsAssertion, "AttributeStatement") {
		for _, a := range children(st, nsAssertion, "Attribute") {
			name := attr(a, "Name")
			if name == "" {
				return invalid(descShape, errors.New("attribute without a name"))
			}
			values, _ := c.out.Claims[name].([]string)
			if values == nil {
				values = []string{}
			}
			for _, v := range children(a, nsAssertion, "AttributeValue") {
				if nsAttr(v, nsXSI, "nil") == "true" {
					continue
				}
				s, err := text(v)
				if err != nil {
					continue // complex content: not a string value
				}
				values = append(values, s)
			}
			c.out.Claims[name] = values
		}
	}
	return nil
}

// is reports whether el is {ns}tag.
func is(el *etree.Element, ns, tag string) bool {
	return el.Tag == tag && el.NamespaceURI() == ns
}

// children returns el's child elements {ns}tag.
func children(el *etree.Element, ns, tag string) []*etree.Element {
	var out []*etree.Element
	for _, ch := range el.ChildElements() {
		if is(ch, ns, tag) {
			out = append(out, ch)
		}
	}
	return out
}

// one returns el's only child {ns}tag.
func one(el *etree.Element, ns, tag string) (*etree.Element, error) {
	ch := children(el, ns, tag)
	if len(ch) != 1 {
		return nil, fmt.Errorf("%d %s elements in %s", len(ch), tag, el.Tag)
	}
	return ch[0], nil
}

// oneText returns the text of el's only child {ns}tag.
func oneText(el *etree.Element, ns, tag string) (string, error) {
	ch, err := one(el, ns, tag)
	if err != nil {
		return "", err
	}
	return text(ch)
}

// text returns all the character data of an element with simple content,
// trimmed. Comments are skipped, not treated as the end of the text: a
// comment inserted into a signed value must not shorten it.
func text(el *etree.Element) (string, error) {
	var b strings.Builder
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Comment:
		default:
			return "", fmt.Errorf("%s has element content", el.Tag)
		}
	}
	return strings.TrimSpace(b.String()), nil
}

// attr returns the value of el's unprefixed attribute key. (etree's
// SelectAttrValue would also match key in any namespace.)
func attr(el *etree.Element, key string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value
		}
	}
	return ""
}

// nsAttr returns the value of el's attribute {ns}key.
func nsAttr(el *etree.Element, ns, key string) string {
	for _, a := range el.Attr {
		if a.Space != "" && a.Key == key && a.NamespaceURI() == ns {
			return a.Value
		}
	}
	return ""
}

// timeAttr parses an xs:dateTime attribute (SAML core §1.3.3: UTC).
func timeAttr(el *etree.Element, key string, required bool) (time.Time, error) {
	v := attr(el, key)
	if v == "" {
		if required {
			return time.Time{}, invalid(descTimes, fmt.Errorf("%s has no %s", el.Tag, key))
		}
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalid(descTimes, fmt.Errorf("%s %s: %w", el.Tag, key, err))
	}
	return t.UTC(), nil
}

// walk calls fn for el and every element below it, stopping at the first
// error.
func walk(el *etree.Element, fn func(*etree.Element) error) error {
	if err := fn(el); err != nil {
		return err
	}
	for _, ch := range el.ChildElements() {
		if err := walk(ch, fn); err != nil {
			return err
		}
	}
	return nil
}
