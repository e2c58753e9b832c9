package jose

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	gojose "github.com/go-jose/go-jose/v4"
)

// maxJWKSKeys bounds how many keys a client's set may hold; verification
// may try each compatible key, so the bound also bounds the work one
// assertion can cause.
const maxJWKSKeys = 100

// privateMembers are the JWK members that carry secret material
// (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// ParseJWKS parses a client's JWK set (RFC 7517 §5), as registered inline in
// its `jwks` metadata (RFC 7591 §2), and checks that every key is a public
// RSA (≥ 2048 bits), EC (P-256/384/521) or Ed25519 key without private
// members, with "use" empty, "sig" or "enc". It rejects an empty set or
// more than 100 keys. Registration calls it; errors describe the first bad
// key by index.
func ParseJWKS(raw []byte) (*gojose.JSONWebKeySet, error) {
	return parseJWKS(raw, false)
}

// parseJWKS is ParseJWKS; lenient skips keys of types we cannot use (RFC
// 7517 §5 says to ignore them), which is right for a set fetched from a
// client's jwks_uri, where the client may publish keys for other parties.
// Private members are refused either way: a set that leaks them is broken.
func parseJWKS(raw []byte, lenient bool) (*gojose.JSONWebKeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode JWK set: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode JWK set: trailing data")
	}
	if len(doc.Keys) == 0 {
		return nil, errors.New("JWK set has no keys")
	}
	if len(doc.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWK set has %d keys, more than %d", len(doc.Keys), maxJWKSKeys)
	}
	set := &gojose.JSONWebKeySet{Keys: make([]gojose.JSONWebKey, 0, len(doc.Keys))}
	for i, rk := range doc.Keys {
		k, err := parsePublicJWK(rk)
		if err != nil {
			if lenient && errors.Is(err, errUnusableKey) {
				continue
			}
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("JWK set has no usable keys")
	}
	return set, nil
}

var errUnusableKey = errors.New("unsupported key type")

func parsePublicJWK(raw json.RawMessage) (gojose.JSONWebKey, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return gojose.JSONWebKey{}, fmt.Errorf("decode key: %w", err)
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return gojose.JSONWebKey{}, fmt.Errorf("key contains private member %q", m)
		}
	}
	var k gojose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		if errors.Is(err, gojose.ErrUnsupportedKeyType) {
			return k, fmt.Errorf("%w: %v", errUnusableKey, err)
		}
		return k, fmt.Errorf("decode key: %w", err)
	}
	if !k.IsPublic() || !k.Valid() {
		return k, fmt.Errorf("%w: not a valid public key", errUnusableKey)
	}
	if !keyFitsAnyAlg(k.Key) {
		return k, fmt.Errorf("%w: key type or size not accepted", errUnusableKey)
	}
	switch k.Use {
	case "", "sig", "enc":
	default:
		return k, fmt.Errorf("key has unknown use %q", k.Use)
	}
	if k.Algorithm != "" && k.Use != "enc" && !asymmetricAlgs[k.Algorithm] {
		return k, fmt.Errorf("key has unsupported signing alg %q", k.Algorithm)
	}
	return k, nil
}

func keyFitsAnyAlg(key any) bool {
	for alg := range asymmetricAlgs {
		if keyFitsAlg(key, alg) {
			return true
		}
	}
	return false
}
