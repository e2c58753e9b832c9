package jose

import (
	"bytes"
	"fmt"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/store"
)

// inlineEntry is a client's registered jwks, parsed. It is valid for the
// client version it was parsed from: the same UpdatedAt and the same raw
// document (compared too, so a store that leaves UpdatedAt unset, or two
// updates within its resolution, cannot serve stale keys).
type inlineEntry struct {
	updated time.Time
	raw     []byte
	set     *gojose.JSONWebKeySet
}

// inlineSet returns the client's inline jwks parsed, parsing it once per
// client version rather than on every assertion: an RSA key set is costly
// to parse, and a client may authenticate many times a second.
func (k *ClientKeys) inlineSet(c *store.Client) (*gojose.JSONWebKeySet, error) {
	raw := c.Metadata.JWKS
	k.mu.Lock()
	e, ok := k.inline[c.ID]
	k.mu.Unlock()
	if ok && e.updated.Equal(c.UpdatedAt) && bytes.Equal(e.raw, raw) {
		return e.set, nil
	}
	set, err := ParseJWKS(raw)
	if err != nil {
		return nil, fmt.Errorf("client's registered jwks: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inline == nil {
		k.inline = make(map[string]*inlineEntry)
	}
	if len(k.inline) >= maxCachedClients {
		// Dropping arbitrary entries only costs a parse.
		for id := range k.inline {
			delete(k.inline, id)
			if len(k.inline) < maxCachedClients/2 {
				break
			}
		}
	}
	k.inline[c.ID] = &inlineEntry{updated: c.UpdatedAt, raw: bytes.Clone(raw), set: set}
	return set, nil
}
