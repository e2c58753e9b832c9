package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

// Token returns a URL-safe random string carrying n bytes of entropy from r
// (crypto/rand.Reader when r is nil).
func Token(r io.Reader, n int) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash returns the hex SHA-256 of value: the key under which tokens and
// codes are stored.
func Hash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// HashBytes returns the raw SHA-256 of value.
func HashBytes(value string) []byte {
	sum := sha256.Sum256([]byte(value))
	return sum[:]
}

// Equal compares two secrets in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// MatchesHash reports, in constant time, whether value's SHA-256 equals sum.
func MatchesHash(value string, sum []byte) bool {
	return len(sum) == sha256.Size && Equal(HashBytes(value), sum)
}

// Keys are the purpose-specific keys derived from the master key, so that no
// key serves two purposes.
type Keys struct {
	Sealer *Sealer
	// SessionMAC authenticates subject session IDs.
	SessionMAC []byte
	// AccessTokenEncryption is the 128-bit content encryption key of
	// encrypted access tokens (JWE "dir" with A128GCM): every node derives
	// the same key, so any node reads a token another issued.
	AccessTokenEncryption []byte
	// PairwiseSalt keys the derivation of pairwise subject identifiers
	// (OIDC Core §8.1), so that they are stable across nodes and restarts
	// and cannot be computed without the master key.
	PairwiseSalt []byte
}

// DeriveKeys derives the server's keys from the master key with HKDF-SHA256.
func DeriveKeys(master []byte) (*Keys, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	encKey, err := hkdf.Key(sha256.New, master, nil, "keyward seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, master, nil, "keyward session mac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive session key: %w", err)
	}
	atKey, err := hkdf.Key(sha256.New, master, nil, "keyward access token jwe v1", 16)
	if err != nil {
		return nil, fmt.Errorf("derive access token key: %w", err)
	}
	salt, err := hkdf.Key(sha256.New, master, nil, "keyward pairwise salt v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive pairwise salt: %w", err)
	}
	sealer, err := NewSealer(encKey)
	if err != nil {
		return nil, err
	}
	return &Keys{Sealer: sealer, SessionMAC: macKey, AccessTokenEncryption: atKey, PairwiseSalt: salt}, nil
}

// Pairwise returns the pairwise subject identifier of sub for a sector
// (OIDC Core §8.1): the base64url HMAC-SHA256 under salt of the sector and
// the subject, separated by a NUL so that no pair of values collides.
func Pairwise(salt []byte, sector, sub string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(sector))
	m.Write([]byte{0})
	m.Write([]byte(sub))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MAC returns the base64url HMAC-SHA256 of msg under key, truncated to
// 128 bits.
func MAC(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Sealer encrypts values at rest with AES-256-GCM. The ciphertext carries
// its random nonce. Additional data binds a ciphertext to its purpose or
// record, so that it cannot be moved to another.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to additional data ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("read nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, ad), nil
}

// ErrOpen is returned when a sealed value cannot be decrypted: wrong master
// key, wrong additional data or tampering.
var ErrOpen = errors.New("cannot open sealed value")

// Open decrypts a value produced by Seal with the same additional data.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := s.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
