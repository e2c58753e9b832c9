package jose

import (
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// TestInlineJWKSParsedOncePerVersion: a client's inline jwks is parsed on
// its first assertion and reused until the client is updated; after an
// update (new UpdatedAt, rotated key) only the new key verifies.
func TestInlineJWKSParsedOncePerVersion(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	k1 := newClientKey(t, gojose.ES256, "k1")
	k2 := newClientKey(t, gojose.ES256, "k2")
	v1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := &store.Client{ID: testClientID, UpdatedAt: v1, Metadata: store.ClientMetadata{JWKS: jwksOf(t, k1)}}
	ck := NewClientKeys(nil, clk.Now)
	verify := func(c *store.Client, k clientKey, jti string) error {
		claims := goodClaims(now)
		claims["jti"] = jti
		_, err := ck.VerifyAssertion(t.Context(), sign(t, k.alg, k.priv, k.kid, claims), c, oauth.AuthMethodPrivateKeyJWT, nil, []string{"ES256"}, audiences)
		return err
	}
	if err := verify(client, k1, "a"); err != nil {
		t.Fatal(err)
	}
	first := ck.inline[testClientID].set
	// A fresh copy of the same client version, as the store returns it.
	same := *client
	same.Metadata.JWKS = append([]byte(nil), client.Metadata.JWKS...)
	if err := verify(&same, k1, "b"); err != nil {
		t.Fatal(err)
	}
	if ck.inline[testClientID].set != first {
		t.Error("the inline jwks was parsed again for the same client version")
	}

	updated := &store.Client{ID: testClientID, UpdatedAt: v1.Add(time.Second), Metadata: store.ClientMetadata{JWKS: jwksOf(t, k2)}}
	if err := verify(updated, k1, "c"); err == nil {
		t.Error("after the update the old key still verifies")
	}
	if err := verify(updated, k2, "d"); err != nil {
		t.Errorf("after the update the new key: %v", err)
	}
	if ck.inline[testClientID].set == first {
		t.Error("the updated client's jwks was not parsed")
	}
	// Same UpdatedAt, other document (a store without update times):
	// the document decides.
	sameTime := &store.Client{ID: testClientID, UpdatedAt: v1.Add(time.Second), Metadata: store.ClientMetadata{JWKS: jwksOf(t, k1)}}
	if err := verify(sameTime, k1, "e"); err != nil {
		t.Errorf("changed document under an unchanged time: %v", err)
	}
}
