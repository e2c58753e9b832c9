// Package saml2bearer verifies the SAML 2.0 bearer assertions of the
// urn:ietf:params:oauth:grant-type:saml2-bearer grant (RFC 7522 §2.1) and
// returns them as an assertion.Verified for the token endpoint.
//
// The XML is parsed with github.com/beevik/etree and the signature checked
// with github.com/russellhaering/goxmldsig; nothing here computes a digest
// or a signature itself. Every value the verifier returns or judges is read
// from the element goxmldsig returns as validated (the canonical bytes it
// digested, parsed again), never from the document the client sent, so that
// content the signature does not cover cannot be read by mistake (signature
// wrapping).
//
// What the verifier decides, and why:
//
//   - Encoding. RFC 7522 §2.1: base64url without line wrapping, pad
//     characters SHOULD NOT be included. Up to two trailing "=" are
//     tolerated (a SHOULD NOT, and some clients pad); the standard base64
//     alphabet ("+", "/"), whitespace and non-zero padding bits are refused.
//   - Size. The encoded length is checked against Options.MaxSize before
//     anything is decoded, the decoded length again after.
//   - DTDs. Any markup declaration ("<!" other than a comment or a CDATA
//     section: DOCTYPE, ENTITY, ELEMENT, ATTLIST, NOTATION) is refused
//     before the XML is parsed, as are non-UTF-8 input and declared
//     encodings other than UTF-8, so that no entity expansion (XXE, billion
//     laughs) can happen whatever the parser does.
//   - Shape. The document is exactly one saml:Assertion (RFC 7522 §2.1: "a
//     single SAML 2.0 Assertion"), with no other Assertion anywhere inside
//     it. A samlp:Response, signed or not, is refused: RFC 7522 transports
//     assertions, not protocol messages, and accepting a Response would
//     bring back the wrapping choices (which signature covers which
//     assertion) this package avoids. Duplicate attributes are refused.
//   - Signature. Exactly one ds:Signature, a direct child of the Assertion,
//     enveloped, with one Reference to "#" + the Assertion's ID (SAML core
//     §5.4.1–5.4.2); RSA or ECDSA with SHA-256/384/512 only (SHA-1 refused).
//     An unsigned assertion is refused (RFC 7522 §3 item 7).
//   - Issuer. A configured trusted issuer (third party) is looked up first;
//     otherwise an Issuer equal to the client_id is self-issued and must be
//     signed with the certificate of a key in the client's registered
//     "jwks" (the first "x5c" entry of each key not registered for "enc"),
//     and must name the client as its Subject (RFC 7522 §3 item 2.b: the
//     client acting on its own behalf; as for JWTs, RFC 7523 §3). A client
//     whose ID equals a trusted issuer's cannot issue assertions as that
//     issuer with its own keys.
//   - Conditions (RFC 7522 §3 items 2, 4, 10; SAML core §2.5.1): required,
//     with at least one AudienceRestriction; every AudienceRestriction must
//     name an accepted audience. NotBefore/NotOnOrAfter are checked with
//     Options.MaxSkew. OneTimeUse is honoured by the caller's replay cache
//     (the ID is always single use); ProxyRestriction does not concern a
//     token endpoint and is accepted; any other condition is refused.
//   - Subject confirmation (RFC 7522 §3 item 5; SAML profiles §4.1.4.2): at
//     least one SubjectConfirmation with Method
//     urn:oasis:names:tc:SAML:2.0:cm:bearer whose SubjectConfirmationData has
//     an accepted Recipient and a NotOnOrAfter in the future (NotBefore, if
//     present, is honoured). Address and InResponseTo are not checked: a
//     token request has no SAML request to respond to, and the client's
//     address says nothing about the subject.
//   - Lifetime. The effective expiry (Verified.ExpiresAt) is the earliest of
//     Conditions NotOnOrAfter and the confirmation's NotOnOrAfter; it may be
//     at most Options.MaxAhead (plus MaxSkew) ahead, which bounds how long
//     the caller's replay cache must remember the ID. IssueInstant may not
//     lie in the future beyond MaxSkew.
//   - Subject. A non-empty NameID (EncryptedID and BaseID are not
//     supported). Attributes of every AttributeStatement become
//     Verified.Claims as name → []string; values with element content are
//     skipped, EncryptedAttribute elements are ignored.
//
// Every failure is an *oauth.Error invalid_grant whose description names the
// failed check but no key, certificate or parser detail; the cause is kept
// for the logs (oauth.Error.Unwrap).
package saml2bearer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/store"
)

const (
	// DefaultMaxSkew is the clock skew allowed between the assertion's
	// issuer and this server.
	DefaultMaxSkew = time.Minute
	// DefaultMaxAhead bounds how far ahead an assertion's expiry may be.
	DefaultMaxAhead = time.Hour
	// DefaultMaxSize bounds the decoded assertion. Signed assertions from
	// common IdPs, with a certificate in KeyInfo and a few dozen
	// attributes, stay well under 16 KiB.
	DefaultMaxSize = 64 << 10

	// maxCertificates bounds the signature checks one assertion may cause:
	// goxmldsig picks one certificate per check when the signature carries
	// no KeyInfo, so each candidate is a separate check.
	maxCertificates = 16
	// maxDepth bounds the element nesting the parser accepts; SAML
	// assertions nest about six deep.
	maxDepth = 32
)

// TrustedIssuer is a third-party identity provider whose assertions the
// server accepts.
type TrustedIssuer struct {
	// Issuer is the IdP's entity ID, compared exactly with <Issuer>.
	Issuer string
	// Certificates are the IdP's signing certificates (more than one
	// during a rollover).
	Certificates []*x509.Certificate
}

// Options configure a Verifier. Zero durations and sizes take the defaults.
type Options struct {
	// Issuers are the trusted third-party IdPs.
	Issuers []TrustedIssuer
	// Audiences are the accepted AudienceRestriction values: the token
	// endpoint URL and the server's issuer identifier (RFC 7522 §3 item 2).
	Audiences []string
	// Recipients are the accepted SubjectConfirmationData Recipient values:
	// the token endpoint URL (RFC 7522 §3 item 5).
	Recipients []string
	// MaxSkew is the clock skew allowed on NotBefore, NotOnOrAfter and
	// IssueInstant; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// MaxAhead bounds how far ahead the assertion's expiry may be; 0 means
	// DefaultMaxAhead.
	MaxAhead time.Duration
	// MaxSize bounds the decoded assertion in bytes; 0 means
	// DefaultMaxSize.
	MaxSize int
}

// Verifier checks SAML 2.0 bearer assertions. It is safe for concurrent use.
type Verifier struct {
	issuers    map[string][]*x509.Certificate
	audiences  map[string]bool
	recipients map[string]bool
	maxSkew    time.Duration
	maxAhead   time.Duration
	maxSize    int
}

var _ assertion.Verifier = (*Verifier)(nil)

// New validates o and returns a Verifier.
func New(o Options) (*Verifier, error) {
	v := &Verifier{
		issuers:    make(map[string][]*x509.Certificate, len(o.Issuers)),
		audiences:  make(map[string]bool, len(o.Audiences)),
		recipients: make(map[string]bool, len(o.Recipients)),
		maxSkew:    o.MaxSkew,
		maxAhead:   o.MaxAhead,
		maxSize:    o.MaxSize,
	}
	var errs []error
	for i, ti := range o.Issuers {
		switch {
		case ti.Issuer == "":
			errs = append(errs, fmt.Errorf("trusted issuer %d: empty issuer", i))
		case v.issuers[ti.Issuer] != nil:
			errs = append(errs, fmt.Errorf("trusted issuer %q: listed twice", ti.Issuer))
		case len(ti.Certificates) == 0:
			errs = append(errs, fmt.Errorf("trusted issuer %q: no certificates", ti.Issuer))
		case len(ti.Certificates) > maxCertificates:
			errs = append(errs, fmt.Errorf("trusted issuer %q: more than %d certificates", ti.Issuer, maxCertificates))
		default:
			for _, c := range ti.Certificates {
				if c == nil {
					errs = append(errs, fmt.Errorf("trusted issuer %q: nil certificate", ti.Issuer))
				}
			}
			v.issuers[ti.Issuer] = ti.Certificates
		}
	}
	for _, a := range o.Audiences {
		if a == "" {
			errs = append(errs, errors.New("empty audience"))
		}
		v.audiences[a] = true
	}
	if len(o.Audiences) == 0 {
		errs = append(errs, errors.New("no audiences: the token endpoint URL or the issuer is needed"))
	}
	for _, r := range o.Recipients {
		if r == "" {
			errs = append(errs, errors.New("empty recipient"))
		}
		v.recipients[r] = true
	}
	if len(o.Recipients) == 0 {
		errs = append(errs, errors.New("no recipients: the token endpoint URL is needed"))
	}
	if o.MaxSkew < 0 || o.MaxAhead < 0 || o.MaxSize < 0 {
		errs = append(errs, errors.New("negative MaxSkew, MaxAhead or MaxSize"))
	}
	if v.maxSkew == 0 {
		v.maxSkew = DefaultMaxSkew
	}
	if v.maxAhead == 0 {
		v.maxAhead = DefaultMaxAhead
	}
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxSize
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("saml2bearer: %w", err)
	}
	return v, nil
}

// MaxSkew is the clock skew the verifier allows. An assertion is accepted
// until Verified.ExpiresAt plus MaxSkew, so the caller's replay cache must
// keep its ID at least that long.
func (v *Verifier) MaxSkew() time.Duration { return v.maxSkew }

// Verify checks raw, the "assertion" parameter of a token request by client
// (RFC 7522 §2.1), at time now. See the package documentation for what is
// checked. It does not check the ID for replay: the caller records
// Verified.ID until ExpiresAt plus MaxSkew.
//
// Errors: an *oauth.Error invalid_grant for every bad assertion; any other
// error (a nil client, a cancelled context) is the caller's fault.
func (v *Verifier) Verify(ctx context.Context, raw string, client *store.Client, now time.Time) (*assertion.Verified, error) {
	if client == nil {
		return nil, errors.New("saml2bearer: no client")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &check{v: v, client: client, now: now}
	for _, st := range steps() {
		if err := st.run(c, raw); err != nil {
			return nil, err
		}
	}
	return c.out, nil
}
