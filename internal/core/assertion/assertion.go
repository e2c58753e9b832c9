// Package assertion holds what the token endpoint knows of an authorisation
// grant assertion once it has been verified: the JWT bearer grant
// (RFC 7523 §2.1) and the SAML 2.0 bearer grant (RFC 7522 §2.1) share it, so
// that one grant path and one set of handler plug-ins serve both
// (RFC 7521 §4.1, §5.2).
//
// Verifiers live outside the protocol core (they parse JOSE and XML); the
// core asks them through Verifier and decides what to issue from Verified.
package assertion

import (
	"context"
	"time"

	"github.com/keyward/keyward/store"
)

// Verified is an assertion whose signature, issuer, audience and validity
// window have been checked. Every field was read from the signed content.
type Verified struct {
	// Issuer is the assertion's issuer ("iss", SAML <Issuer>).
	Issuer string
	// Subject is the principal ("sub", SAML <NameID>).
	Subject string
	// SubjectFormat is the SAML NameID Format; empty for JWTs.
	SubjectFormat string
	// Audience lists the audiences the assertion names.
	Audience []string
	// ID is the assertion's one-time identifier ("jti", SAML Assertion ID);
	// the core records it in the replay cache until ExpiresAt.
	ID        string
	IssuedAt  time.Time
	NotBefore time.Time
	ExpiresAt time.Time
	// SelfIssued is true when the client issued the assertion itself
	// (issuer = subject = client_id for JWTs, RFC 7523 §3), false when a
	// configured trusted issuer did.
	SelfIssued bool
	// Claims is the JWT claims set, or the SAML attributes (name → []string).
	Claims map[string]any
}

// Verifier checks an assertion presented by an authenticated client.
//
// Errors: an *oauth.Error with code invalid_grant for every assertion that
// fails a check (malformed, unsigned, bad signature, wrong issuer or
// audience, expired, not yet valid, too far ahead), with a description that
// reveals nothing secret; temporarily_unavailable when keys could not be
// fetched; any other error is a server fault.
type Verifier interface {
	Verify(ctx context.Context, raw string, client *store.Client, now time.Time) (*Verified, error)
}
