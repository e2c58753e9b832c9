package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters for new hashes: OWASP Password Storage Cheat Sheet's
// first recommendation (m=19 MiB, t=2, p=1), cheap enough for an interactive
// login on a small machine.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on parameters read from a users file, so that a mistyped hash
// cannot make every login allocate gigabytes or spin for minutes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
	minArgonSaltLen   = 8
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 128
)

// bcryptMaxPassword is bcrypt's input limit; longer passwords can never
// match a bcrypt hash.
const bcryptMaxPassword = 72

// errUnknownHash is returned for a password field that is neither a PHC
// argon2id nor a bcrypt hash. The message never repeats the value, which
// may be a plain-text password.
var errUnknownHash = errors.New("password is not a PHC argon2id ($argon2id$…) or bcrypt ($2a$/$2b$/$2y$…) hash; plain-text passwords are refused")

// HashPassword returns a PHC-format argon2id hash of password with a fresh
// random salt (RFC 9106; parameters as OWASP recommends).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodeArgon(argonParams{memory: argonMemoryKiB, time: argonTime, threads: argonThreads, salt: salt, key: key}), nil
}

// VerifyPassword reports whether password matches hash, a PHC argon2id or a
// bcrypt hash. A malformed or unknown hash is an error; a mismatch is
// (false, nil). Comparison is constant-time. A password longer than bcrypt's
// 72-byte limit never matches a bcrypt hash.
func VerifyPassword(hash, password string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		p, err := parseArgon(hash)
		if err != nil {
			return false, err
		}
		key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
		return subtle.ConstantTimeCompare(key, p.key) == 1, nil
	case isBcrypt(hash):
		if len(password) > bcryptMaxPassword {
			// Do the hashing work anyway so that length is not a timing signal.
			_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password[:bcryptMaxPassword]))
			return false, nil
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("bcrypt hash: %w", err)
		}
	default:
		return false, errUnknownHash
	}
}

// checkHash validates a stored hash without doing any hashing work.
func checkHash(hash string) error {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon(hash)
		return err
	case isBcrypt(hash):
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("malformed bcrypt hash: %w", err)
		}
		return nil
	default:
		return errUnknownHash
	}
}

func isBcrypt(hash string) bool {
	for _, p := range []string{"$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(hash, p) {
			return true
		}
	}
	return false
}

type argonParams struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// PHC strings use unpadded standard base64.
var phcB64 = base64.RawStdEncoding

func encodeArgon(p argonParams) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, phcB64.EncodeToString(p.salt), phcB64.EncodeToString(p.key))
}

// parseArgon decodes "$argon2id$v=19$m=…,t=…,p=…$salt$hash" (PHC string
// format) and bounds its parameters.
func parseArgon(hash string) (argonParams, error) {
	var p argonParams
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, errors.New("malformed argon2id hash: want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, fmt.Errorf("unsupported argon2id version (want v=%d)", argon2.Version)
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, errors.New("malformed argon2id parameters")
		}
		n64, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, fmt.Errorf("malformed argon2id parameter %q", k)
		}
		n := uint32(n64)
		switch k {
		case "m":
			p.memory, seen[0] = n, true
		case "t":
			p.time, seen[1] = n, true
		case "p":
			if n < 1 || n > 255 {
				return p, errors.New("argon2id parallelism must be 1..255")
			}
			p.threads, seen[2] = uint8(n), true
		default:
			return p, fmt.Errorf("unknown argon2id parameter %q", k)
		}
	}
	if !seen[0] || !seen[1] || !seen[2] {
		return p, errors.New("argon2id hash must set m, t and p")
	}
	if p.time < 1 || p.time > maxArgonTime {
		return p, fmt.Errorf("argon2id time cost must be 1..%d", maxArgonTime)
	}
	if p.memory < 8*uint32(p.threads) || p.memory > maxArgonMemoryKiB {
		return p, fmt.Errorf("argon2id memory must be 8·p..%d KiB", maxArgonMemoryKiB)
	}
	var err error
	if p.salt, err = phcB64.DecodeString(parts[4]); err != nil || len(p.salt) < minArgonSaltLen {
		return p, fmt.Errorf("argon2id salt must be unpadded base64 of at least %d bytes", minArgonSaltLen)
	}
	if p.key, err = phcB64.DecodeString(parts[5]); err != nil || len(p.key) < minArgonKeyLen || len(p.key) > maxArgonKeyLen {
		return p, fmt.Errorf("argon2id hash must be unpadded base64 of %d..%d bytes", minArgonKeyLen, maxArgonKeyLen)
	}
	return p, nil
}
