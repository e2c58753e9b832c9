package jose

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"

	gojose "github.com/go-jose/go-jose/v4"
)

// Key management algorithms of our encryption keys (RFC 7518 §4.3, §4.6):
// clients encrypt request objects (RFC 9101 §6.1) to the "use":"enc" keys
// of /jwks.json.
const (
	AlgRSAOAEP256 = "RSA-OAEP-256"
	AlgECDHES     = "ECDH-ES"
)

// encAlgorithms are the algorithms a key set has one encryption key for.
// They are stored and rotated with the signing keys, sealed the same way.
var encAlgorithms = []string{AlgRSAOAEP256, AlgECDHES}

func isEncAlg(alg string) bool { return slices.Contains(encAlgorithms, alg) }

// keyUse is the JWK "use" of a key for alg (RFC 7517 §4.2).
func keyUse(alg string) string {
	if isEncAlg(alg) {
		return "enc"
	}
	return "sig"
}

// keyFitsEncAlg reports whether a public key suits an encryption algorithm.
func keyFitsEncAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == AlgRSAOAEP256 && k.N != nil && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return alg == AlgECDHES && k.Curve == elliptic.P256()
	}
	return false
}

// addMissingEncKeys creates the encryption keys a store initialised by an
// older version lacks. The store's Rotate retires only keys of the
// algorithms it is given, so the signing keys are untouched.
func (m *KeyManager) addMissingEncKeys(ctx context.Context) error {
	m.reload.Lock()
	defer m.reload.Unlock()
	set := m.set.Load()
	var missing []string
	for _, alg := range encAlgorithms {
		if set.active[alg] == nil {
			missing = append(missing, alg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	next, err := m.generate(missing)
	if err != nil {
		return err
	}
	now := m.cfg.Now().UTC()
	if err := m.cfg.Store.Rotate(ctx, next, now, now.Add(m.cfg.RetiredKeyTTL)); err != nil {
		return fmt.Errorf("add encryption keys: %w", err)
	}
	m.cfg.Log.Info("generated encryption keys", "kids", kids(next))
	return m.refreshLocked(ctx)
}

// Decrypt opens a compact JWE (RFC 7516 §7.1) encrypted to one of our
// published encryption keys, active or retired, named by kid, with a key
// management algorithm in algs and a content encryption in encs. It
// returns the plaintext.
func (m *KeyManager) Decrypt(jwe string, algs, encs []string) ([]byte, error) {
	set := m.set.Load()
	if set == nil {
		return nil, ErrNotInitialised
	}
	if len(jwe) > maxTokenBytes {
		return nil, fmt.Errorf("JWE larger than %d bytes", maxTokenBytes)
	}
	var ka []gojose.KeyAlgorithm
	for _, a := range algs {
		if isEncAlg(a) {
			ka = append(ka, gojose.KeyAlgorithm(a))
		}
	}
	ce := make([]gojose.ContentEncryption, 0, len(encs))
	for _, e := range encs {
		ce = append(ce, gojose.ContentEncryption(e))
	}
	if len(ka) == 0 || len(ce) == 0 {
		return nil, errors.New("no acceptable encryption algorithm")
	}
	obj, err := gojose.ParseEncryptedCompact(jwe, ka, ce)
	if err != nil {
		return nil, fmt.Errorf("parse JWE: %w", err)
	}
	h := obj.Header
	k := set.byKID[h.KeyID]
	if k == nil || !isEncAlg(k.info.Alg) || k.private == nil {
		return nil, fmt.Errorf("JWE encrypted to unknown key %q", h.KeyID)
	}
	if h.Algorithm != k.info.Alg {
		return nil, fmt.Errorf("JWE algorithm %q does not match key %q (%s)", h.Algorithm, k.info.KID, k.info.Alg)
	}
	plain, err := obj.Decrypt(k.private)
	if err != nil {
		return nil, fmt.Errorf("decrypt JWE: %w", err)
	}
	return plain, nil
}
