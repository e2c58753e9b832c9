package jose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/internal/core/assertion"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// DefaultBearerMaxAhead bounds how far ahead a JWT bearer grant
// assertion's exp (and how far back its iat) may be, by default.
const DefaultBearerMaxAhead = time.Hour

// TrustedIssuer is a third-party token service whose JWT assertions the
// JWT bearer grant accepts (RFC 7523 §3 item 1), with its keys given
// either inline (Keys, e.g. read from a jwks_file) or by JWKSURI, fetched
// and cached as clients' sets are, with a re-fetch on an unknown kid.
type TrustedIssuer struct {
	Issuer  string
	JWKSURI string
	Keys    *gojose.JSONWebKeySet
}

// ParseIssuerJWKS parses the JWK set of a trusted issuer (a jwks_file):
// public signing keys only, keys of unknown types skipped.
func ParseIssuerJWKS(raw []byte) (*gojose.JSONWebKeySet, error) { return parseJWKS(raw, true) }

// JWTBearerVerifier verifies the assertions of the JWT bearer grant
// (RFC 7523 §2.1, §3): self-issued ones (iss = sub = the client), signed
// with the client's registered keys (jwks or jwks_uri) or, with an HMAC
// algorithm, its client secret; and third-party ones from the trusted
// issuers, signed with their keys. It implements assertion.Verifier; the
// token core tracks the "jti" replay. Safe for concurrent use once set up.
type JWTBearerVerifier struct {
	// Keys caches the clients' and issuers' jwks_uri sets.
	Keys *ClientKeys
	// IssuerKeys, when set, fetches and caches the trusted issuers'
	// jwks_uri sets instead of Keys: the operator configured those URLs,
	// so they may be on an internal network that the fetcher guarding
	// client-registered URLs refuses.
	IssuerKeys *ClientKeys
	// Issuers are the trusted third-party issuers.
	Issuers []TrustedIssuer
	// Audiences are the values "aud" must contain one of: the token
	// endpoint and the issuer (RFC 7523 §3 item 3).
	Audiences []string
	// MaxAhead bounds exp ahead and iat back; DefaultBearerMaxAhead when
	// zero.
	MaxAhead time.Duration
	// ClientSecret returns the client's secret for an HMAC-signed
	// self-issued assertion; nil (or an empty answer) refuses HMAC.
	ClientSecret func(ctx context.Context, c *store.Client) ([]byte, error)
}

var _ assertion.Verifier = (*JWTBearerVerifier)(nil)

// bearerAlgs are the algorithms any bearer assertion may name; "none" is
// not among them, so go-jose refuses it before anything else.
var bearerAlgs = func() []gojose.SignatureAlgorithm {
	var out []gojose.SignatureAlgorithm
	for _, a := range oauth.AsymmetricAlgs() {
		out = append(out, gojose.SignatureAlgorithm(a))
	}
	for _, a := range oauth.HMACAlgs() {
		out = append(out, gojose.SignatureAlgorithm(a))
	}
	return out
}()

// errFetch marks a failure to download a JWK set: temporarily_unavailable,
// not the client's fault.
var errFetch = errors.New("fetch JWK set")

func bad(format string, args ...any) error {
	return oauth.InvalidGrant("invalid assertion").WithCause(fmt.Errorf(format, args...))
}

// Verify implements assertion.Verifier. Every failure is invalid_grant with
// the generic description "invalid assertion" (the reason is the error's
// log-only cause), except a JWK set that could not be fetched:
// temporarily_unavailable.
func (v *JWTBearerVerifier) Verify(ctx context.Context, raw string, client *store.Client, now time.Time) (*assertion.Verified, error) {
	if client == nil || v.Keys == nil {
		return nil, errors.New("JWT bearer verifier: no client or no key cache")
	}
	if err := checkAssertionSize(raw); err != nil {
		return nil, bad("%w", err)
	}
	jws, err := gojose.ParseSignedCompact(raw, bearerAlgs)
	if err != nil {
		return nil, bad("parse assertion: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, bad("assertion must carry exactly one signature")
	}
	h := jws.Signatures[0].Header
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil || unverified.Issuer == "" {
		return nil, bad("assertion has no readable iss")
	}
	selfIssued := unverified.Issuer == client.ID
	var payload []byte
	switch {
	case selfIssued && hmacAlgs[h.Algorithm]:
		payload, err = v.verifyHMAC(ctx, jws, client)
	case selfIssued:
		payload, err = v.Keys.verifyWithClientKeys(ctx, jws, client)
	default:
		payload, err = v.verifyThirdParty(ctx, jws, h, unverified.Issuer)
	}
	if err != nil {
		if errors.Is(err, errFetch) {
			return nil, oauth.TemporarilyUnavailable("the assertion issuer's keys could not be fetched").WithCause(err)
		}
		if oauth.AsError(err) != nil {
			return nil, err
		}
		return nil, bad("%w", err)
	}
	return v.checkClaims(payload, client, selfIssued, now)
}

func (v *JWTBearerVerifier) verifyHMAC(ctx context.Context, jws *gojose.JSONWebSignature, client *store.Client) ([]byte, error) {
	// Only the client's own secret keys an HMAC: never a public key's
	// bytes (the classic algorithm confusion), never a shared default.
	if v.ClientSecret == nil {
		return nil, errors.New("HMAC-signed assertions are not accepted")
	}
	secret, err := v.ClientSecret(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("client secret: %w", err)
	}
	if len(secret) == 0 {
		return nil, errors.New("the client has no secret to verify an HMAC assertion with")
	}
	payload, err := jws.Verify(secret)
	if err != nil {
		return nil, fmt.Errorf("verify assertion HMAC: %w", err)
	}
	return payload, nil
}

func (v *JWTBearerVerifier) verifyThirdParty(ctx context.Context, jws *gojose.JSONWebSignature, h gojose.Header, iss string) ([]byte, error) {
	var ti *TrustedIssuer
	for i := range v.Issuers {
		if v.Issuers[i].Issuer == iss {
			ti = &v.Issuers[i]
			break
		}
	}
	if ti == nil {
		return nil, fmt.Errorf("issuer %q is neither the client nor a trusted issuer", truncate(iss))
	}
	if !asymmetricAlgs[h.Algorithm] {
		return nil, fmt.Errorf("third-party assertion with alg %q; only public-key algorithms are accepted", h.Algorithm)
	}
	if ti.Keys != nil {
		return verifyWithSet(jws, h, ti.Keys)
	}
	// Issuers share the client key cache under keys no client ID can
	// take: a NUL never appears in a registered client_id.
	cacheKey := "\x00issuer\x00" + ti.Issuer
	keys := v.Keys
	if v.IssuerKeys != nil {
		keys = v.IssuerKeys
	}
	set, err := keys.fetch(ctx, cacheKey, ti.JWKSURI, false)
	if err != nil {
		return nil, err
	}
	payload, err := verifyWithSet(jws, h, set)
	if !errors.Is(err, errNoKey) {
		return payload, err
	}
	set, err = keys.fetch(ctx, cacheKey, ti.JWKSURI, true)
	if err != nil {
		return nil, err
	}
	return verifyWithSet(jws, h, set)
}

type bearerClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

func (v *JWTBearerVerifier) checkClaims(payload []byte, client *store.Client, selfIssued bool, now time.Time) (*assertion.Verified, error) {
	var c bearerClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, bad("decode assertion claims: %w", err)
	}
	all := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&all); err != nil {
		return nil, bad("decode assertion claims: %w", err)
	}
	if c.Subject == "" {
		return nil, bad("assertion has no sub")
	}
	if selfIssued && c.Subject != client.ID {
		return nil, bad("a self-issued assertion's sub must be the client ID")
	}
	audOK := false
	for _, a := range v.Audiences {
		if a != "" && c.Audience.Contains(a) {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, bad("assertion audience %q does not name this server", truncate(strings.Join(c.Audience, " ")))
	}
	maxAhead := v.MaxAhead
	if maxAhead <= 0 {
		maxAhead = DefaultBearerMaxAhead
	}
	if err := CheckAssertionTimes(c.Expiry, c.NotBefore, c.IssuedAt, now, maxAhead); err != nil {
		return nil, bad("%w", err)
	}
	if c.ID == "" {
		return nil, bad("assertion has no jti")
	}
	out := &assertion.Verified{
		Issuer: c.Issuer, Subject: c.Subject, Audience: []string(c.Audience), ID: c.ID,
		ExpiresAt: c.Expiry.Time().UTC(), SelfIssued: selfIssued, Claims: all,
	}
	if c.NotBefore != nil {
		out.NotBefore = c.NotBefore.Time().UTC()
	}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time().UTC()
	}
	return out, nil
}

// truncate keeps attacker-chosen values in log messages short.
func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
