package jose

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
	"github.com/keyward/keyward/store/sqlite"
)

type testClaims struct {
	Sub string `json:"sub"`
	Exp int64  `json:"exp"`
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jwksKids(t *testing.T, raw []byte) []string {
	t.Helper()
	var set gojose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("JWKS is not a JWK set: %v\n%s", err, raw)
	}
	var out []string
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("JWKS publishes a non-public key %q", k.KeyID)
		}
		if k.Algorithm == "" || k.Use != keyUse(k.Algorithm) {
			t.Errorf("key %q: use %q alg %q, want an alg and its use (sig, or enc for encryption keys)", k.KeyID, k.Use, k.Algorithm)
		}
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

func TestSignVerifyEveryAlgorithm(t *testing.T) {
	m := newManager(t, &fakeKeyStore{}, newClock(), sealer(t, 1))
	if diff := cmp.Diff([]string{"RS256", "ES256", "EdDSA"}, m.Algorithms()); diff != "" {
		t.Errorf("Algorithms() (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		alg, typ string
	}{
		{"RS256", ""},
		{"ES256", "at+jwt"},
		{"EdDSA", "JWT"},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			want := testClaims{Sub: "alice", Exp: 42}
			tok, err := m.Sign(tc.alg, tc.typ, want)
			if err != nil {
				t.Fatal(err)
			}
			h := header(t, tok)
			if h["alg"] != tc.alg {
				t.Errorf("header alg = %v, want %s", h["alg"], tc.alg)
			}
			typ, hasTyp := h["typ"]
			if tc.typ == "" && hasTyp {
				t.Errorf("header typ = %v, want none", typ)
			}
			if tc.typ != "" && typ != tc.typ {
				t.Errorf("header typ = %v, want %s", typ, tc.typ)
			}
			kid, _ := h["kid"].(string)
			if !slices.Contains(jwksKids(t, m.JWKS()), kid) {
				t.Errorf("kid %q not in JWKS", kid)
			}
			payload, err := m.Verify(tok, []string{tc.alg})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var got testClaims
			if err := json.Unmarshal(payload, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignUnknownAlgorithm(t *testing.T) {
	m := newManager(t, &fakeKeyStore{}, newClock(), sealer(t, 1))
	for _, alg := range []string{"HS256", "none", "PS256", ""} {
		if _, err := m.Sign(alg, "", testClaims{}); err == nil {
			t.Errorf("Sign(%q) succeeded", alg)
		}
	}
}

func TestNotInitialised(t *testing.T) {
	m, err := NewKeyManager(KeyManagerConfig{Store: &fakeKeyStore{}, Sealer: sealer(t, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Sign("RS256", "", 1); !errors.Is(err, ErrNotInitialised) {
		t.Errorf("Sign before Init: err = %v", err)
	}
	if _, err := m.Verify("a.b.c", []string{"RS256"}); !errors.Is(err, ErrNotInitialised) {
		t.Errorf("Verify before Init: err = %v", err)
	}
	if got := string(m.JWKS()); got != `{"keys":[]}` {
		t.Errorf("JWKS before Init = %s", got)
	}
}

func TestNewKeyManagerRejectsBadConfig(t *testing.T) {
	s := sealer(t, 1)
	for name, cfg := range map[string]KeyManagerConfig{
		"no store":     {Sealer: s},
		"no sealer":    {Store: &fakeKeyStore{}},
		"small RSA":    {Store: &fakeKeyStore{}, Sealer: s, RSABits: 1024},
		"negative TTL": {Store: &fakeKeyStore{}, Sealer: s, RetiredKeyTTL: -time.Second},
	} {
		if _, err := NewKeyManager(cfg); err == nil {
			t.Errorf("%s: NewKeyManager succeeded", name)
		}
	}
}

func TestPrivateKeysAreSealedInStore(t *testing.T) {
	st := &fakeKeyStore{}
	newManager(t, st, newClock(), sealer(t, 1))
	keys, _ := st.List(t.Context())
	if len(keys) != 5 {
		t.Fatalf("store holds %d keys, want 5 (3 signing, 2 encryption)", len(keys))
	}
	for _, k := range keys {
		if strings.Contains(string(k.PrivateSealed), `"d"`) {
			t.Errorf("key %s: private part stored in the clear", k.ID)
		}
		if strings.Contains(string(k.Public), `"d"`) {
			t.Errorf("key %s: public part carries a private member", k.ID)
		}
		// Bound to its kid: opening under another kid must fail.
		if _, err := sealer(t, 1).Open(k.PrivateSealed, []byte("other")); !errors.Is(err, secret.ErrOpen) {
			t.Errorf("key %s: sealed value not bound to its kid", k.ID)
		}
	}
}

// keyStores are the KeyStore implementations the shared-store tests run on:
// the real in-memory and SQLite backends, and the local fake.
var keyStores = []struct {
	name string
	new  func(t *testing.T) store.KeyStore
}{
	{"memstore", func(t *testing.T) store.KeyStore {
		m, err := memstore.Open(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return m.Durable().Keys
	}},
	{"sqlite", func(t *testing.T) store.KeyStore {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keyward.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.Durable().Keys
	}},
	{"fake", func(*testing.T) store.KeyStore { return &fakeKeyStore{} }},
}

func TestConcurrentInitSharesOneKeySet(t *testing.T) {
	for _, ks := range keyStores {
		t.Run(ks.name, func(t *testing.T) { testConcurrentInit(t, ks.new(t)) })
	}
}

func testConcurrentInit(t *testing.T, st store.KeyStore) {
	clk := newClock()
	const nodes = 4
	managers := make([]*KeyManager, nodes)
	var wg sync.WaitGroup
	for i := range managers {
		m, err := NewKeyManager(KeyManagerConfig{Store: st, Sealer: sealer(t, 1), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		managers[i] = m
		wg.Go(func() {
			if err := m.Init(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, _ := st.List(t.Context())
	if len(keys) != 5 {
		t.Fatalf("store holds %d keys after concurrent Init, want 5", len(keys))
	}
	want := string(managers[0].JWKS())
	for i, m := range managers[1:] {
		if got := string(m.JWKS()); got != want {
			t.Errorf("node %d JWKS differs from node 0", i+1)
		}
	}
	// A token from one node verifies on another.
	tok, err := managers[1].Sign("ES256", "", testClaims{Sub: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := managers[2].Verify(tok, []string{"ES256"}); err != nil {
		t.Errorf("node 2 cannot verify node 1's token: %v", err)
	}
}

func TestInitWithOtherMasterKeyFails(t *testing.T) {
	st := &fakeKeyStore{}
	newManager(t, st, newClock(), sealer(t, 1))
	m, err := NewKeyManager(KeyManagerConfig{Store: st, Sealer: sealer(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Init(t.Context())
	if !errors.Is(err, secret.ErrOpen) || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("Init with another master key: err = %v, want ErrOpen mentioning the master key", err)
	}
}

func TestRotation(t *testing.T) {
	for _, ks := range keyStores {
		t.Run(ks.name, func(t *testing.T) { testRotation(t, ks.new(t)) })
	}
}

func testRotation(t *testing.T, st store.KeyStore) {
	clk := newClock()
	m1 := newManager(t, st, clk, sealer(t, 1))
	m2 := newManager(t, st, clk, sealer(t, 1))
	oldKids := jwksKids(t, m1.JWKS())
	oldTok, err := m1.Sign("RS256", "", testClaims{Sub: "old"})
	if err != nil {
		t.Fatal(err)
	}
	oldKid := header(t, oldTok)["kid"]

	clk.Advance(time.Minute)
	if err := m1.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	newTok, err := m1.Sign("RS256", "", testClaims{Sub: "new"})
	if err != nil {
		t.Fatal(err)
	}
	if header(t, newTok)["kid"] == oldKid {
		t.Fatal("after Rotate the old kid still signs")
	}
	if n := len(jwksKids(t, m1.JWKS())); n != 10 {
		t.Errorf("after Rotate JWKS has %d keys, want 10 (5 active, 5 retired)", n)
	}
	if _, err := m1.Verify(oldTok, []string{"RS256"}); err != nil {
		t.Errorf("token signed by the retired key no longer verifies: %v", err)
	}
	var retired int
	for _, k := range m1.Keys() {
		if !k.RetiredAt.IsZero() {
			retired++
			if want := clk.Now().Add(time.Hour); !k.DeleteAfter.Equal(want) {
				t.Errorf("retired key %s DeleteAfter = %v, want %v", k.KID, k.DeleteAfter, want)
			}
		}
	}
	if retired != 5 {
		t.Errorf("Keys() shows %d retired keys, want 5", retired)
	}

	// The other node learns of the rotation only when it refreshes.
	if diff := cmp.Diff(oldKids, jwksKids(t, m2.JWKS())); diff != "" {
		t.Errorf("node 2 changed before Refresh (-want +got):\n%s", diff)
	}
	if _, err := m2.Verify(newTok, []string{"RS256"}); err == nil {
		t.Error("node 2 verified a token of a key it has not loaded")
	}
	if err := m2.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jwksKids(t, m1.JWKS()), jwksKids(t, m2.JWKS())); diff != "" {
		t.Errorf("node 2 JWKS after Refresh (-node1 +node2):\n%s", diff)
	}
	if _, err := m2.Verify(newTok, []string{"RS256"}); err != nil {
		t.Errorf("node 2 cannot verify the new key's token after Refresh: %v", err)
	}

	// Past RetiredKeyTTL the retired keys are gone.
	clk.Advance(time.Hour + time.Second)
	if n, err := st.DeleteRetired(t.Context(), clk.Now()); err != nil || n != 5 {
		t.Fatalf("DeleteRetired = %d, %v; want 5", n, err)
	}
	if err := m2.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, k := range jwksKids(t, m2.JWKS()) {
		if slices.Contains(oldKids, k) {
			t.Errorf("retired kid %s still published after its TTL", k)
		}
	}
	if _, err := m2.Verify(oldTok, []string{"RS256"}); err == nil {
		t.Error("token of a deleted key still verifies")
	}
}

func TestRetiredKeyUnpublishedAtTTLWithoutDelete(t *testing.T) {
	st := &fakeKeyStore{}
	clk := newClock()
	m := newManager(t, st, clk, sealer(t, 1))
	oldTok, _ := m.Sign("EdDSA", "", testClaims{})
	if err := m.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour + time.Second)
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(jwksKids(t, m.JWKS())); n != 5 {
		t.Errorf("JWKS has %d keys past the retired TTL, want 5", n)
	}
	if _, err := m.Verify(oldTok, []string{"EdDSA"}); err == nil {
		t.Error("expired retired key still verifies")
	}
}

func TestRefreshWithoutChangeKeepsSet(t *testing.T) {
	st := &fakeKeyStore{}
	m := newManager(t, st, newClock(), sealer(t, 1))
	before := m.set.Load()
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m.set.Load() != before {
		t.Error("Refresh rebuilt an unchanged key set")
	}
	lists := st.listCount()
	for range 10 {
		if _, err := m.Sign("RS256", "", testClaims{}); err != nil {
			t.Fatal(err)
		}
	}
	if st.listCount() != lists {
		t.Error("Sign reached the store")
	}
}

// foreignToken signs claims with a key that is not ours but claims our kid.
func foreignToken(t *testing.T, alg gojose.SignatureAlgorithm, key any, kid string) string {
	t.Helper()
	s, err := gojose.NewSigner(gojose.SigningKey{Algorithm: alg, Key: gojose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{"sub":"mallory"}`))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyRejects(t *testing.T) {
	m := newManager(t, &fakeKeyStore{}, newClock(), sealer(t, 1))
	rsTok, _ := m.Sign("RS256", "", testClaims{Sub: "alice"})
	esTok, _ := m.Sign("ES256", "", testClaims{Sub: "alice"})
	rsKid := header(t, rsTok)["kid"].(string)
	esKid := header(t, esTok)["kid"].(string)
	parts := strings.Split(rsTok, ".")

	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	// The public JWK as an HMAC secret: the classic RS256→HS256 confusion.
	var pubJWK []byte
	{
		var set struct{ Keys []json.RawMessage }
		_ = json.Unmarshal(m.JWKS(), &set)
		pubJWK = set.Keys[0]
	}
	hsTok := foreignToken(t, gojose.HS256, pubJWK, rsKid)
	noneTok := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+rsKid+`"}`)) + "." + parts[1] + "."

	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","exp":42}`)) + "." + parts[2]
	sig := []byte(parts[2])
	sig[10] ^= 1
	badSig := parts[0] + "." + parts[1] + "." + string(sig)

	for _, tc := range []struct {
		name, token string
		algs        []string
	}{
		{"tampered payload", tampered, []string{"RS256"}},
		{"tampered signature", badSig, []string{"RS256"}},
		{"alg not allowed", esTok, []string{"RS256"}},
		{"empty allow-list", rsTok, nil},
		{"none", noneTok, []string{"RS256", "none"}},
		{"HS256 with public key as secret", hsTok, []string{"RS256", "HS256"}},
		{"foreign RSA key with our kid", foreignToken(t, gojose.RS256, otherRSA, rsKid), []string{"RS256"}},
		{"PS256 header on our RS256 key", foreignToken(t, gojose.PS256, otherRSA, rsKid), []string{"RS256", "PS256"}},
		{"ES256 token claiming the RSA kid", foreignToken(t, gojose.ES256, otherEC, rsKid), []string{"RS256", "ES256"}},
		{"foreign EC key with our kid", foreignToken(t, gojose.ES256, otherEC, esKid), []string{"ES256"}},
		{"unknown kid", foreignToken(t, gojose.ES256, otherEC, "nope"), []string{"ES256"}},
		{"no kid", foreignToken(t, gojose.ES256, otherEC, ""), []string{"ES256"}},
		{"garbage", "not a token", []string{"RS256"}},
		{"empty", "", []string{"RS256"}},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, []string{"RS256"}},
		{"oversized", strings.Repeat("a", maxTokenBytes+1), []string{"RS256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload, err := m.Verify(tc.token, tc.algs)
			if err == nil {
				t.Fatalf("Verify accepted it; payload %s", payload)
			}
			t.Logf("rejected: %v", err)
		})
	}
}

func TestRunRefreshesAndDeletesRetired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeKeyStore{}
		m1, err := NewKeyManager(KeyManagerConfig{Store: st, Sealer: sealer(t, 1), RetiredKeyTTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := NewKeyManager(KeyManagerConfig{Store: st, Sealer: sealer(t, 1), RetiredKeyTTL: time.Hour})
		if err := m1.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := m2.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		changes := make(chan string)
		done := make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			m2.Run(ctx, 10*time.Minute, changes)
			close(done)
		}()

		if err := m1.Rotate(t.Context()); err != nil {
			t.Fatal(err)
		}
		changes <- "keys"
		synctest.Wait()
		if diff := cmp.Diff(jwksKids(t, m1.JWKS()), jwksKids(t, m2.JWKS())); diff != "" {
			t.Errorf("after a change message node 2 JWKS (-node1 +node2):\n%s", diff)
		}

		time.Sleep(time.Hour + 11*time.Minute)
		synctest.Wait()
		keys, _ := st.List(t.Context())
		if len(keys) != 5 {
			t.Errorf("store holds %d keys after the retired TTL, want 5 (Run did not delete)", len(keys))
		}
		if n := len(jwksKids(t, m2.JWKS())); n != 5 {
			t.Errorf("node 2 publishes %d keys after the retired TTL, want 5", n)
		}
		close(changes) // a closed channel must not spin or stop the loop
		time.Sleep(time.Minute)
		cancel()
		<-done
	})
}

func TestKidIsThumbprint(t *testing.T) {
	m := newManager(t, &fakeKeyStore{}, newClock(), sealer(t, 1))
	var set gojose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(tp); got != k.KeyID {
			t.Errorf("kid %s is not the RFC 7638 thumbprint %s", k.KeyID, got)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	m := newManager(b, &fakeKeyStore{}, newClock(), sealer(b, 1))
	claims := map[string]any{"iss": "https://op.example", "sub": "alice", "aud": "client", "exp": 1900000000, "scope": "openid profile"}
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Sign(alg, "at+jwt", claims); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
