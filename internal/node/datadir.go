package node

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyward/keyward/internal/secret"
)

// Files the server keeps in its data directory.
const (
	masterKeyFile = "master.key"
	APITokenFile  = "api-token"
)

// BootstrapSecret returns the configured value, or the one saved in the data
// directory, or generates, saves (mode 0600) and returns a new one, with
// generated = true so that the caller can print it once.
func BootstrapSecret(dataDir, name, configured string, generate func() (string, error)) (value string, generated bool, err error) {
	if configured != "" {
		return configured, false, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, name)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		return strings.TrimSpace(string(b)), false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("read %s: %w", path, err)
	}
	value, err = generate()
	if err != nil {
		return "", false, err
	}
	// O_EXCL: two processes sharing a data dir must not overwrite each
	// other's secret; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return BootstrapSecret(dataDir, name, "", generate)
	}
	if err != nil {
		return "", false, fmt.Errorf("save %s: %w", path, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("save %s: %w", path, err)
	}
	return value, true, nil
}

func newMasterKey() (string, error) {
	b := make([]byte, secret.MasterKeySize)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// NewAPIToken returns 43 URL-safe characters (256 bits), above Connect2id's
// 32-character minimum.
func NewAPIToken() (string, error) { return secret.Token(nil, 32) }

// decodeMasterKey accepts standard or URL-safe base64, padded or not.
func decodeMasterKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != secret.MasterKeySize {
				return nil, fmt.Errorf("master key must be base64 of %d bytes, got %d bytes", secret.MasterKeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("master key is not valid base64")
}
