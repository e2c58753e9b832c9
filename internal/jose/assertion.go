package jose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

const (
	// maxAssertionSigningInput bounds header+payload of a client assertion.
	maxAssertionSigningInput = 10 << 10
	// maxAssertionBytes adds room for the largest signature we accept
	// (RSA 8192 bits, base64url) to the signing-input limit.
	maxAssertionBytes = maxAssertionSigningInput + 1 + 1400
	// AssertionLeeway absorbs clock skew between client and server.
	AssertionLeeway = 60 * time.Second
	// refetchInterval is the least time between forced re-fetches of one
	// client's jwks_uri, so a stream of assertions with unknown kids cannot
	// turn us into a request amplifier.
	refetchInterval = 10 * time.Second
	// maxCandidateKeys bounds the signature checks one assertion without a
	// kid may cause.
	maxCandidateKeys = 8
	// maxCachedClients bounds the jwks_uri cache.
	maxCachedClients = 10000

	// DefaultAssertionMaxAge bounds how far ahead an assertion's exp and how
	// far back its iat may be.
	DefaultAssertionMaxAge = 5 * time.Minute
	// DefaultJWKSCacheTTL is how long a fetched client JWK set is used.
	DefaultJWKSCacheTTL = 5 * time.Minute
	// DefaultJWKSMaxBytes bounds a jwks_uri response.
	DefaultJWKSMaxBytes = 1 << 20
)

// Fetcher gets the document at a client's jwks_uri, at most maxBytes of
// it. The server supplies one that speaks HTTP (internal/jwksfetch); this
// package does no network I/O of its own, so the core that verifies
// assertions through it never reaches net/http.
type Fetcher interface {
	Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error)
}

// ClientKeys verifies client authentication assertions and caches the JWK
// sets fetched from clients' jwks_uri. Set the exported fields before first
// use (NewClientKeys fills defaults); it is then safe for concurrent use.
type ClientKeys struct {
	// Fetcher gets jwks_uri documents; nil refuses clients that register a
	// jwks_uri.
	Fetcher Fetcher
	// Now is the clock.
	Now func() time.Time
	// CacheTTL is how long a fetched JWK set is used before it is fetched
	// again.
	CacheTTL time.Duration
	// MaxBytes bounds a jwks_uri response body.
	MaxBytes int64
	// MaxAge bounds the life of an assertion (CheckAssertionTimes): the
	// caller's jti replay cache must keep each jti for MaxAge plus twice
	// AssertionLeeway. Default DefaultAssertionMaxAge.
	MaxAge time.Duration

	mu     sync.Mutex
	cache  map[string]*jwksEntry   // by client ID
	inline map[string]*inlineEntry // by client ID, see inlineSet
}

type jwksEntry struct {
	mu        sync.Mutex // held while fetching, so one fetch per client at a time
	uri       string
	set       *gojose.JSONWebKeySet
	fetchedAt time.Time
}

// NewClientKeys returns a ClientKeys using fetcher for jwks_uri documents
// (nil: none) and the clock now (time.Now when nil), with
// DefaultJWKSCacheTTL, DefaultJWKSMaxBytes and DefaultAssertionMaxAge.
func NewClientKeys(fetcher Fetcher, now func() time.Time) *ClientKeys {
	if now == nil {
		now = time.Now
	}
	return &ClientKeys{
		Fetcher:  fetcher,
		Now:      now,
		CacheTTL: DefaultJWKSCacheTTL,
		MaxBytes: DefaultJWKSMaxBytes,
		MaxAge:   DefaultAssertionMaxAge,
	}
}

// AssertionClaims are the verified claims of a client assertion.
type AssertionClaims struct {
	Issuer, Subject, ID string
	Audience            []string
	Expiry              time.Time
	IssuedAt            time.Time // zero when absent
	NotBefore           time.Time // zero when absent
}

type assertionClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	ID        string           `json:"jti"`
}

// VerifyAssertion verifies a client authentication JWT (RFC 7523 §2.2 and
// §3, OIDC Core §9) for method oauth.AuthMethodPrivateKeyJWT or
// oauth.AuthMethodClientSecretJWT.
//
// The signature must use an algorithm in algs (never "none"; HS256/384/512
// only for client_secret_jwt, keyed with secret; asymmetric algorithms only
// for private_key_jwt, checked against the client's inline `jwks` or its
// `jwks_uri` set, fetched and cached; an unknown kid forces one re-fetch, at
// most once per 10 s per client). Then iss and sub must both equal the
// client ID, aud must contain one of audiences, the times must pass
// CheckAssertionTimes with MaxAge, and jti must be present. The caller
// checks jti replay (store.ReplayCache), keeping each jti until exp plus
// AssertionLeeway, and maps every error to invalid_client.
func (k *ClientKeys) VerifyAssertion(ctx context.Context, assertion string, client *store.Client, method string, secret []byte, algs []string, audiences []string) (*AssertionClaims, error) {
	if client == nil {
		return nil, errors.New("no client")
	}
	if err := checkAssertionSize(assertion); err != nil {
		return nil, err
	}
	var allowed []gojose.SignatureAlgorithm
	switch method {
	case oauth.AuthMethodClientSecretJWT:
		if len(secret) == 0 {
			return nil, errors.New("client has no secret for client_secret_jwt")
		}
		allowed = filterAlgs(algs, hmacAlgs)
	case oauth.AuthMethodPrivateKeyJWT:
		allowed = filterAlgs(algs, asymmetricAlgs)
	default:
		return nil, fmt.Errorf("authentication method %q does not use an assertion", method)
	}
	if len(allowed) == 0 {
		return nil, fmt.Errorf("no acceptable signature algorithm for %s", method)
	}
	if want := client.Metadata.TokenEndpointAuthSigningAlg; want != "" {
		if !slices.Contains(allowed, gojose.SignatureAlgorithm(want)) {
			return nil, fmt.Errorf("client's registered signing algorithm %q is not acceptable", want)
		}
		// OIDC Dynamic Registration §2: other algorithms must be rejected.
		allowed = []gojose.SignatureAlgorithm{gojose.SignatureAlgorithm(want)}
	}
	jws, err := gojose.ParseSignedCompact(assertion, allowed)
	if err != nil {
		return nil, fmt.Errorf("parse assertion: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("assertion must carry exactly one signature")
	}
	var payload []byte
	if method == oauth.AuthMethodClientSecretJWT {
		payload, err = jws.Verify(secret)
		if err != nil {
			return nil, fmt.Errorf("verify assertion HMAC: %w", err)
		}
	} else {
		payload, err = k.verifyWithClientKeys(ctx, jws, client)
		if err != nil {
			return nil, err
		}
	}
	maxAge := k.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultAssertionMaxAge
	}
	return checkAssertionClaims(payload, client.ID, audiences, k.Now(), maxAge)
}

func checkAssertionSize(assertion string) error {
	if len(assertion) > maxAssertionBytes {
		return fmt.Errorf("assertion larger than %d bytes", maxAssertionBytes)
	}
	if i := strings.LastIndexByte(assertion, '.'); i > maxAssertionSigningInput {
		return fmt.Errorf("assertion header and payload larger than %d bytes", maxAssertionSigningInput)
	}
	return nil
}

func (k *ClientKeys) verifyWithClientKeys(ctx context.Context, jws *gojose.JSONWebSignature, client *store.Client) ([]byte, error) {
	h := jws.Signatures[0].Header
	md := client.Metadata
	if len(md.JWKS) > 0 {
		set, err := k.inlineSet(client)
		if err != nil {
			return nil, err
		}
		return verifyWithSet(jws, h, set)
	}
	if md.JWKSURI == "" {
		return nil, errors.New("client has registered neither jwks nor jwks_uri")
	}
	set, err := k.fetch(ctx, client.ID, md.JWKSURI, false)
	if err != nil {
		return nil, err
	}
	payload, err := verifyWithSet(jws, h, set)
	if !errors.Is(err, errNoKey) {
		return payload, err
	}
	// The client may have rotated its keys since we cached its set.
	set, err = k.fetch(ctx, client.ID, md.JWKSURI, true)
	if err != nil {
		return nil, err
	}
	return verifyWithSet(jws, h, set)
}

// fetchError is a failed jwks_uri download; errors.Is finds errFetch in
// it, so that callers can tell an unreachable key set from a bad token.
type fetchError struct{ err error }

func (e fetchError) Error() string        { return "fetch client jwks_uri: " + e.err.Error() }
func (e fetchError) Unwrap() error        { return e.err }
func (e fetchError) Is(target error) bool { return target == errFetch }

var errNoKey = errors.New("no registered key of the client matches the assertion")

// verifyWithSet tries the keys that fit the header's kid and alg; errNoKey
// (wrapped) means none fits, which may be cured by re-fetching the set.
func verifyWithSet(jws *gojose.JSONWebSignature, h gojose.Header, set *gojose.JSONWebKeySet) ([]byte, error) {
	tried := 0
	var lastErr error
	for _, key := range set.Keys {
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		if key.Use == "enc" || (key.Algorithm != "" && key.Algorithm != h.Algorithm) || !keyFitsAlg(key.Key, h.Algorithm) {
			continue
		}
		if tried == maxCandidateKeys {
			break
		}
		tried++
		payload, err := jws.Verify(key.Key)
		if err == nil {
			return payload, nil
		}
		lastErr = err
	}
	if tried == 0 {
		return nil, fmt.Errorf("%w (kid %q, alg %q)", errNoKey, h.KeyID, h.Algorithm)
	}
	return nil, fmt.Errorf("verify assertion signature: %w", lastErr)
}

// fetch returns the client's jwks_uri set from the cache, or fetches it when
// it is missing, stale, registered under another URI, or force is set and
// the cached set is older than refetchInterval.
func (k *ClientKeys) fetch(ctx context.Context, clientID, uri string, force bool) (*gojose.JSONWebKeySet, error) {
	e := k.entry(clientID)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := k.Now()
	fresh := e.set != nil && e.uri == uri && now.Sub(e.fetchedAt) < k.CacheTTL
	// A forced re-fetch is skipped when the set is younger than
	// refetchInterval: that also covers a set fetched moments ago by this
	// very verification, or by a concurrent one.
	if fresh && (!force || now.Sub(e.fetchedAt) < refetchInterval) {
		return e.set, nil
	}
	set, err := k.download(ctx, uri)
	if err != nil {
		return nil, fetchError{err}
	}
	e.uri, e.set, e.fetchedAt = uri, set, now
	return set, nil
}

func (k *ClientKeys) entry(clientID string) *jwksEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.cache[clientID]; ok {
		return e
	}
	if k.cache == nil {
		k.cache = make(map[string]*jwksEntry)
	}
	if len(k.cache) >= maxCachedClients {
		// Dropping arbitrary entries only costs a re-fetch.
		for id := range k.cache {
			delete(k.cache, id)
			if len(k.cache) < maxCachedClients/2 {
				break
			}
		}
	}
	e := &jwksEntry{}
	k.cache[clientID] = e
	return e
}

func (k *ClientKeys) download(ctx context.Context, uri string) (*gojose.JSONWebKeySet, error) {
	if k.Fetcher == nil {
		return nil, errors.New("no jwks_uri fetcher configured")
	}
	max := k.MaxBytes
	if max <= 0 {
		max = DefaultJWKSMaxBytes
	}
	body, err := k.Fetcher.Fetch(ctx, uri, max)
	if err != nil {
		return nil, err
	}
	return parseJWKS(body, true)
}

func checkAssertionClaims(payload []byte, clientID string, audiences []string, now time.Time, maxAge time.Duration) (*AssertionClaims, error) {
	var c assertionClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("decode assertion claims: %w", err)
	}
	if c.Issuer != clientID || c.Subject != clientID {
		return nil, fmt.Errorf("assertion iss %q and sub %q must both be the client ID", c.Issuer, c.Subject)
	}
	audOK := false
	for _, a := range audiences {
		if a != "" && c.Audience.Contains(a) {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, fmt.Errorf("assertion audience %q does not name this server", []string(c.Audience))
	}
	if err := CheckAssertionTimes(c.Expiry, c.NotBefore, c.IssuedAt, now, maxAge); err != nil {
		return nil, err
	}
	exp, nbf, iat := c.Expiry.Time(), c.NotBefore.Time(), c.IssuedAt.Time()
	if c.ID == "" {
		return nil, errors.New("assertion has no jti")
	}
	out := &AssertionClaims{
		Issuer: c.Issuer, Subject: c.Subject, ID: c.ID,
		Audience: []string(c.Audience), Expiry: exp.UTC(),
	}
	if c.NotBefore != nil {
		out.NotBefore = nbf.UTC()
	}
	if c.IssuedAt != nil {
		out.IssuedAt = iat.UTC()
	}
	return out, nil
}

// CheckAssertionTimes checks the times of a JWT assertion (RFC 7523 §3),
// allowing AssertionLeeway of clock skew each way: exp is required and not
// passed, nbf and iat are not in the future; and the assertion is short-lived:
// exp at most maxAge ahead and iat, when present, at most maxAge back.
//
// The bound is what makes single use enforceable: a jti replay cache that
// keeps each jti until exp + AssertionLeeway then never holds one longer than
// maxAge + 2×AssertionLeeway, and no assertion outlives its entry. Every
// verifier of assertions must apply it: client authentication here, and the
// JWT bearer grant (RFC 7523 §2.1) when it is added.
func CheckAssertionTimes(exp, nbf, iat *jwt.NumericDate, now time.Time, maxAge time.Duration) error {
	if exp == nil {
		return errors.New("assertion has no exp")
	}
	e := exp.Time()
	if !now.Before(e.Add(AssertionLeeway)) {
		return fmt.Errorf("assertion expired at %s", e.UTC().Format(time.RFC3339))
	}
	if e.After(now.Add(maxAge + AssertionLeeway)) {
		return fmt.Errorf("assertion expires at %s, more than %s ahead", e.UTC().Format(time.RFC3339), maxAge)
	}
	if nbf != nil && nbf.Time().After(now.Add(AssertionLeeway)) {
		return fmt.Errorf("assertion not valid before %s", nbf.Time().UTC().Format(time.RFC3339))
	}
	if iat != nil {
		i := iat.Time()
		if i.After(now.Add(AssertionLeeway)) {
			return fmt.Errorf("assertion issued in the future (%s)", i.UTC().Format(time.RFC3339))
		}
		if i.Before(now.Add(-maxAge - AssertionLeeway)) {
			return fmt.Errorf("assertion issued at %s, more than %s ago", i.UTC().Format(time.RFC3339), maxAge)
		}
	}
	return nil
}

// UnverifiedClientID returns the client ID a client assertion claims to come
// from (its iss, which must equal its sub, RFC 7523 §3), without verifying
// anything, so the caller can load the client whose keys verify it. Never
// trust the result before VerifyAssertion succeeds.
func UnverifiedClientID(assertion string) (string, error) {
	if err := checkAssertionSize(assertion); err != nil {
		return "", err
	}
	algs := make([]gojose.SignatureAlgorithm, 0, len(asymmetricAlgs)+len(hmacAlgs))
	for a := range asymmetricAlgs {
		algs = append(algs, gojose.SignatureAlgorithm(a))
	}
	for a := range hmacAlgs {
		algs = append(algs, gojose.SignatureAlgorithm(a))
	}
	tok, err := jwt.ParseSigned(assertion, algs)
	if err != nil {
		return "", fmt.Errorf("parse assertion: %w", err)
	}
	var c struct {
		Issuer  string `json:"iss"`
		Subject string `json:"sub"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", fmt.Errorf("decode assertion claims: %w", err)
	}
	if c.Issuer == "" || c.Issuer != c.Subject {
		return "", errors.New("assertion iss and sub must both be the client ID")
	}
	return c.Issuer, nil
}
