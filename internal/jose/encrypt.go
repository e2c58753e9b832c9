package jose

import (
	"errors"
	"fmt"

	gojose "github.com/go-jose/go-jose/v4"
)

// DirEncrypter encrypts the server's own JWTs for itself: JWE compact
// serialisation with "alg":"dir" and "enc":"A128GCM" (RFC 7516, RFC 7518
// §4.5, §5.3) under one shared symmetric key, as Connect2id's encrypted
// access tokens (https://connect2id.com/products/server/docs/guides/jwt-encrypted-access-tokens).
// Only holders of the key — the nodes of the deployment, which derive it
// from the master key — can read the token; clients cannot.
type DirEncrypter struct {
	key []byte
	enc gojose.Encrypter
}

// NewDirEncrypter returns an encrypter for a 16-byte (A128GCM) key.
func NewDirEncrypter(key []byte) (*DirEncrypter, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("A128GCM needs a 16-byte key, got %d", len(key))
	}
	enc, err := gojose.NewEncrypter(gojose.A128GCM, gojose.Recipient{Algorithm: gojose.DIRECT, Key: key},
		(&gojose.EncrypterOptions{}).WithContentType("JWT").WithType("at+jwt"))
	if err != nil {
		return nil, fmt.Errorf("new encrypter: %w", err)
	}
	return &DirEncrypter{key: append([]byte(nil), key...), enc: enc}, nil
}

// Encrypt wraps a compact JWS (a signed JWT) in a compact JWE with
// "cty":"JWT" (a nested JWT, RFC 7519 §5.2) and "typ":"at+jwt".
func (d *DirEncrypter) Encrypt(jws string) (string, error) {
	obj, err := d.enc.Encrypt([]byte(jws))
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	return obj.CompactSerialize()
}

// ErrNotOurs is returned by Decrypt for a value that is not a JWE this
// encrypter made.
var ErrNotOurs = errors.New("not an encrypted token of this server")

// Decrypt returns the nested JWS of a JWE made by Encrypt. Only dir with
// A128GCM is accepted.
func (d *DirEncrypter) Decrypt(jwe string) (string, error) {
	if len(jwe) > maxTokenBytes {
		return "", ErrNotOurs
	}
	obj, err := gojose.ParseEncryptedCompact(jwe, []gojose.KeyAlgorithm{gojose.DIRECT}, []gojose.ContentEncryption{gojose.A128GCM})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotOurs, err)
	}
	pt, err := obj.Decrypt(d.key)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotOurs, err)
	}
	return string(pt), nil
}
