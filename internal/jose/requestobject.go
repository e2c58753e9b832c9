package jose

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/store"
)

const (
	// MaxRequestObjectBytes bounds a request object (RFC 9101), signed or
	// encrypted, passed by value or fetched from a request_uri. Real ones
	// are a few KB; the bound keeps parsing cheap.
	MaxRequestObjectBytes = 64 << 10
	// DefaultRequestObjectMaxAge bounds how far ahead a request object's exp
	// and how far back its iat may be (authz.request_object_max_age).
	DefaultRequestObjectMaxAge = 10 * time.Minute
)

// RequestObjectEncAlgs are the JWE key management algorithms a request
// object may be encrypted with (RFC 7518 §4.3, §4.6), to our "use":"enc"
// keys, and RequestObjectEncs the content encryptions (RFC 7518 §5.3).
var (
	RequestObjectEncAlgs = []string{AlgRSAOAEP256, AlgECDHES}
	RequestObjectEncs    = []string{"A256GCM"}
)

// ErrRequestObject marks every refusal of a request object: the caller
// answers invalid_request_object. Other errors (an unreachable jwks_uri)
// are errFetch-wrapped and temporary.
var ErrRequestObject = errors.New("invalid request object")

// Decrypter opens a compact JWE encrypted to one of our encryption keys
// (the key manager).
type Decrypter interface {
	Decrypt(jwe string, algs, encs []string) ([]byte, error)
}

// RequestObjects verifies request objects (RFC 9101 §6) with the client's
// registered keys. Set the fields before first use; it is safe for
// concurrent use.
type RequestObjects struct {
	// Keys holds and fetches the clients' JWK sets. Required.
	Keys *ClientKeys
	// Decrypter opens encrypted request objects; nil refuses them.
	Decrypter Decrypter
	// Algs are the accepted signing algorithms; "none" and HMAC are never
	// accepted whatever the list says (see VerifyRequestObject).
	Algs []string
	// MaxAge bounds exp and iat; DefaultRequestObjectMaxAge when zero.
	MaxAge time.Duration
}

// requestObjectClaims are the JWT claims RFC 9101 §4 and §10.2 give a
// request object, which are not authorisation parameters.
var requestObjectClaims = []string{"iss", "aud", "exp", "nbf", "iat", "jti", "sub"}

// VerifyRequestObject verifies a request object sent by client and returns
// its authorisation request parameters (the JWT claims minus iss, aud, exp,
// nbf, iat, jti and sub). A JWE (five parts) is decrypted first; its
// content must be a signed request object. The signature must be made with
// a key of the client's jwks or jwks_uri set and an algorithm of Algs (the
// client's request_object_signing_alg only, when registered). Unsecured
// ("alg":"none") objects are always refused: RFC 9101 §10.2 lets a server
// accept them, but a request anyone can forge protects nothing, and the
// FAPI profiles forbid them. iss must be the client ID (RFC 9101 §4), aud
// must contain issuer, exp is required and, with nbf and iat, must pass
// CheckAssertionTimes with MaxAge. Every refusal wraps ErrRequestObject.
func (r *RequestObjects) VerifyRequestObject(ctx context.Context, raw string, client *store.Client, issuer string) (map[string]any, error) {
	if client == nil {
		return nil, errors.New("no client")
	}
	if len(raw) > MaxRequestObjectBytes {
		return nil, refuse("larger than %d bytes", MaxRequestObjectBytes)
	}
	if strings.Count(raw, ".") == 4 {
		if r.Decrypter == nil {
			return nil, refuse("encrypted request objects are not supported")
		}
		plain, err := r.Decrypter.Decrypt(raw, RequestObjectEncAlgs, RequestObjectEncs)
		if err != nil {
			return nil, refuse("cannot decrypt: %v", err)
		}
		raw = string(plain)
		if strings.Count(raw, ".") != 2 {
			return nil, refuse("an encrypted request object must contain a signed one")
		}
	}
	if alg, ok := headerAlg(raw); ok && alg == "none" {
		return nil, refuse("unsigned (alg none) request objects are not accepted")
	}
	allowed := filterAlgs(r.Algs, asymmetricAlgs)
	if want := client.Metadata.RequestObjectSigningAlg; want != "" {
		if !slices.Contains(allowed, gojose.SignatureAlgorithm(want)) {
			return nil, refuse("the client's request_object_signing_alg %s is not accepted", want)
		}
		allowed = []gojose.SignatureAlgorithm{gojose.SignatureAlgorithm(want)}
	}
	if len(allowed) == 0 {
		return nil, refuse("no acceptable signing algorithm")
	}
	jws, err := gojose.ParseSignedCompact(raw, allowed)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse("must carry exactly one signature")
	}
	payload, err := r.Keys.verifyWithClientKeys(ctx, jws, client)
	if err != nil {
		switch {
		case errors.Is(err, errFetch):
			return nil, err
		case errors.Is(err, errNoKey):
			return nil, refuse("no registered key of the client matches its kid and alg")
		}
		return nil, refuse("the signature does not verify with the client's registered keys")
	}
	claims, err := r.checkClaims(payload, client.ID, issuer)
	if err != nil {
		return nil, err
	}
	return claims, nil
}

func (r *RequestObjects) checkClaims(payload []byte, clientID, issuer string) (map[string]any, error) {
	var all map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil || all == nil {
		return nil, refuse("the payload is not a JSON object")
	}
	var c struct {
		Issuer    string           `json:"iss"`
		Audience  jwt.Audience     `json:"aud"`
		Expiry    *jwt.NumericDate `json:"exp"`
		NotBefore *jwt.NumericDate `json:"nbf"`
		IssuedAt  *jwt.NumericDate `json:"iat"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, refuse("bad registered claims: %v", err)
	}
	if c.Issuer != clientID {
		return nil, refuse("iss is not the client ID")
	}
	if issuer == "" || !c.Audience.Contains(issuer) {
		return nil, refuse("aud does not name this server")
	}
	maxAge := r.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultRequestObjectMaxAge
	}
	if err := CheckAssertionTimes(c.Expiry, c.NotBefore, c.IssuedAt, r.Keys.Now(), maxAge); err != nil {
		return nil, refuse("%s", strings.Replace(err.Error(), "assertion", "request object", 1))
	}
	for _, name := range requestObjectClaims {
		delete(all, name)
	}
	return all, nil
}

// headerAlg reads the alg of a compact JWS header without verifying
// anything, to name an unsecured object precisely (go-jose refuses "none"
// with a generic error).
func headerAlg(raw string) (string, bool) {
	h, _, ok := strings.Cut(raw, ".")
	if !ok {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return "", false
	}
	return strings.ToLower(hdr.Alg), true
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRequestObject, fmt.Sprintf(format, args...))
}
