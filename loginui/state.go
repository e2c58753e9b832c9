package loginui

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// stateLifetime bounds how long a sealed prompt can be replayed into a page.
// The API's own session lifetime (15 min by default) stays authoritative;
// this only avoids rendering long-dead prompts from old history entries.
const stateLifetime = 30 * time.Minute

// maxStateLen caps the sealed state accepted from a request, before any
// decoding work.
const maxStateLen = 16 << 10

var errBadState = errors.New("invalid or expired page state")

// pageState is what the UI must remember between two requests of one
// authorisation session: the pending prompt and where the browser may be
// sent afterwards.
type pageState struct {
	Msg message `json:"m"`
	// Targets are CSP form-action sources for the client's redirect URI,
	// taken from the original request so that the form submission may end
	// in a redirect to the client (browsers check form-action on redirects).
	Targets []string `json:"t,omitempty"`
	Exp     int64    `json:"exp"`
}

// keys holds the UI's derived secrets; all come from one root so that every
// node sharing the root accepts the others' pages.
type keys struct {
	sealer *secret.Sealer
	csrf   []byte
}

func deriveKeys(root []byte) (*keys, error) {
	sealKey, err := hkdf.Key(sha256.New, root, nil, "keyward loginui state v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive state key: %w", err)
	}
	csrfKey, err := hkdf.Key(sha256.New, root, nil, "keyward loginui csrf v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive csrf key: %w", err)
	}
	s, err := secret.NewSealer(sealKey)
	if err != nil {
		return nil, err
	}
	return &keys{sealer: s, csrf: csrfKey}, nil
}

// stateAD binds a sealed state to the browser that received it.
func stateAD(binding string) []byte { return []byte("loginui state\x00" + binding) }

func (k *keys) seal(st *pageState, binding string) (string, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("encode state: %w", err)
	}
	ct, err := k.sealer.Seal(b, stateAD(binding))
	if err != nil {
		return "", fmt.Errorf("seal state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

// open returns the state sealed for this browser, or errBadState when it was
// tampered with, sealed for another browser or another key, or expired.
func (k *keys) open(v, binding string, now time.Time) (*pageState, error) {
	if v == "" || len(v) > maxStateLen || binding == "" {
		return nil, errBadState
	}
	ct, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, errBadState
	}
	pt, err := k.sealer.Open(ct, stateAD(binding))
	if err != nil {
		return nil, errBadState
	}
	var st pageState
	if err := json.Unmarshal(pt, &st); err != nil {
		return nil, errBadState
	}
	if now.Unix() > st.Exp || st.Msg.SID == "" {
		return nil, errBadState
	}
	return &st, nil
}

// csrfToken is the per-form token: a MAC over the authorisation session id
// and the browser binding, so a token is useless for another session or in
// another browser.
func (k *keys) csrfToken(sid, binding string) string {
	return secret.MAC(k.csrf, sid+"\x00"+binding)
}

func (k *keys) checkCSRF(sid, binding, token string) bool {
	if sid == "" || binding == "" || token == "" {
		return false
	}
	return secret.Equal([]byte(k.csrfToken(sid, binding)), []byte(token))
}
