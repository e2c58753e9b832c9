package jose

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
)

// DefaultRetiredKeyTTL is used when KeyManagerConfig.RetiredKeyTTL is zero.
// It comfortably exceeds the default ID token (5 min) and access token
// (10 min) lifetimes, so no token outlives the key that verifies it.
const DefaultRetiredKeyTTL = 24 * time.Hour

// maxTokenBytes bounds the tokens Verify will parse. Our own ID and access
// tokens are a few KB; anything far larger is not ours.
const maxTokenBytes = 128 << 10

// ErrNotInitialised is returned by Sign and Verify before Init succeeded.
var ErrNotInitialised = errors.New("key manager not initialised")

// KeyManagerConfig configures a KeyManager.
type KeyManagerConfig struct {
	// Store holds the keys every node shares. Required.
	Store store.KeyStore
	// Sealer encrypts private keys before they reach the store, with the kid
	// as additional data so a sealed key cannot be swapped for another.
	// Required; every node must derive it from the same master key.
	Sealer *secret.Sealer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Log receives key lifecycle events (never key material); discarded when nil.
	Log *slog.Logger
	// RetiredKeyTTL is how long a retired key stays published. It must be at
	// least the longest lifetime of a token the key may have signed.
	// DefaultRetiredKeyTTL when zero.
	RetiredKeyTTL time.Duration
	// RSABits is the RSA modulus size for new RS256 keys; 2048 when zero,
	// at least 2048.
	RSABits int
}

// KeyInfo describes one stored key, for operators (`keyward keys list`).
type KeyInfo struct {
	KID       string
	Alg       string
	CreatedAt time.Time
	// RetiredAt is zero while the key is active.
	RetiredAt time.Time
	// DeleteAfter is zero while the key is active; after it the key is no
	// longer published and DeleteRetired removes it.
	DeleteAfter time.Time
}

// KeyManager holds the server's signing keys in memory and keeps them in
// step with store.KeyStore. Sign, Verify, JWKS, Algorithms and Keys are
// safe for concurrent use and never touch the store; Init, Refresh, Rotate
// and Run do I/O.
type KeyManager struct {
	cfg KeyManagerConfig
	set atomic.Pointer[keySet]
	// reload serialises Refresh and Rotate so two reloads never race to
	// publish an older set over a newer one.
	reload sync.Mutex
}

// keySet is an immutable snapshot of the keys; a reload builds a new one and
// swaps it in.
type keySet struct {
	stamp  string
	active map[string]*key // by alg
	byKID  map[string]*key // published keys, active and retired
	all    map[string]*key // every stored key, for reuse by the next reload
	algs   []string
	jwks   []byte
	infos  []KeyInfo
}

type key struct {
	info    KeyInfo
	public  gojose.JSONWebKey
	private crypto.Signer // nil unless active
	// signers caches one go-jose signer per typ header value; typ values
	// come from code, not requests, so the map stays tiny.
	signers sync.Map
}

// NewKeyManager checks cfg and returns a manager that holds no keys until
// Init succeeds.
func NewKeyManager(cfg KeyManagerConfig) (*KeyManager, error) {
	if cfg.Store == nil {
		return nil, errors.New("key manager: nil key store")
	}
	if cfg.Sealer == nil {
		return nil, errors.New("key manager: nil sealer")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetiredKeyTTL == 0 {
		cfg.RetiredKeyTTL = DefaultRetiredKeyTTL
	}
	if cfg.RetiredKeyTTL < 0 {
		return nil, fmt.Errorf("key manager: negative retired key TTL %v", cfg.RetiredKeyTTL)
	}
	if cfg.RSABits == 0 {
		cfg.RSABits = minRSABits
	}
	if cfg.RSABits < minRSABits {
		return nil, fmt.Errorf("key manager: RSA key size %d below minimum %d", cfg.RSABits, minRSABits)
	}
	return &KeyManager{cfg: cfg}, nil
}

// Init loads the key set. On an empty store it generates one key per default
// algorithm (RS256, ES256, EdDSA) and offers them with AddIfEmpty, so nodes
// starting together on one store all end with the same keys. If the store
// holds keys but none is active, it rotates to create them. It fails when
// the stored private keys cannot be opened with the configured sealer
// (a different master key).
func (m *KeyManager) Init(ctx context.Context) error {
	stored, err := m.cfg.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	if len(stored) == 0 {
		fresh, err := m.generate(slices.Concat(defaultAlgorithms, encAlgorithms))
		if err != nil {
			return err
		}
		added, err := m.cfg.Store.AddIfEmpty(ctx, fresh)
		if err != nil {
			return fmt.Errorf("store new signing keys: %w", err)
		}
		if added {
			m.cfg.Log.Info("generated signing keys", "kids", kids(fresh))
		} else {
			m.cfg.Log.Info("another node generated the signing keys first; using theirs")
		}
	}
	if err := m.Refresh(ctx); err != nil {
		return err
	}
	if len(m.set.Load().algs) == 0 {
		m.cfg.Log.Warn("no active signing key in the store; rotating")
		return m.Rotate(ctx)
	}
	return m.addMissingEncKeys(ctx)
}

// Load loads the stored keys without ever generating or rotating: the
// administrative commands use it. It fails when the store holds no key or
// when a private key does not open under the master key.
func (m *KeyManager) Load(ctx context.Context) error {
	stored, err := m.cfg.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	if len(stored) == 0 {
		return ErrNoKeys
	}
	return m.Refresh(ctx)
}

// ErrNoKeys: the store holds no signing key (Load).
var ErrNoKeys = errors.New("the store holds no signing keys")

// Refresh reloads the keys from the store and swaps the in-memory set
// atomically. When nothing changed since the last load it only costs the
// store List: keys are parsed and private keys opened once per kid.
func (m *KeyManager) Refresh(ctx context.Context) error {
	m.reload.Lock()
	defer m.reload.Unlock()
	return m.refreshLocked(ctx)
}

func (m *KeyManager) refreshLocked(ctx context.Context) error {
	stored, err := m.cfg.Store.List(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	now := m.cfg.Now()
	prev := m.set.Load()
	stamp := setStamp(stored, now)
	if prev != nil && prev.stamp == stamp {
		return nil
	}
	next, err := m.build(stored, now, prev)
	if err != nil {
		return err
	}
	next.stamp = stamp
	m.set.Store(next)
	if prev != nil {
		// A rotation (here or on another node) or a retired key's end:
		// operators check the propagation bound against this line.
		active := make([]string, 0, len(next.active))
		for _, k := range next.active {
			active = append(active, k.info.KID)
		}
		slices.Sort(active)
		m.cfg.Log.InfoContext(ctx, "signing keys reloaded", "active_kids", active, "published", len(next.byKID))
	}
	return nil
}

// Rotate creates a new key for every algorithm that has an active key (the
// defaults when none has), retires the current ones through the store's
// atomic Rotate (published for RetiredKeyTTL more) and reloads. Other nodes
// see the new keys on their next Refresh.
func (m *KeyManager) Rotate(ctx context.Context) error {
	m.reload.Lock()
	defer m.reload.Unlock()
	algs := defaultAlgorithms
	if cur := m.set.Load(); cur != nil && len(cur.algs) > 0 {
		algs = cur.algs
	}
	// Encryption keys rotate with the signing keys.
	next, err := m.generate(slices.Concat(algs, encAlgorithms))
	if err != nil {
		return err
	}
	now := m.cfg.Now().UTC()
	if err := m.cfg.Store.Rotate(ctx, next, now, now.Add(m.cfg.RetiredKeyTTL)); err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	m.cfg.Log.Info("rotated signing keys", "kids", kids(next), "retired_until", now.Add(m.cfg.RetiredKeyTTL))
	return m.refreshLocked(ctx)
}

// Sign returns the compact JWS (RFC 7515 §7.1) of claims, JSON-encoded,
// signed with the active key for alg. The protected header carries alg, kid
// and, unless typ is empty, typ (e.g. "at+jwt", RFC 9068 §2.1). Pass a
// json.RawMessage for claims that are already encoded.
func (m *KeyManager) Sign(alg, typ string, claims any) (string, error) {
	set := m.set.Load()
	if set == nil {
		return "", ErrNotInitialised
	}
	k := set.active[alg]
	if k == nil || isEncAlg(alg) {
		return "", fmt.Errorf("no active signing key for algorithm %q", alg)
	}
	signer, err := k.signer(typ)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign with %s: %w", k.info.KID, err)
	}
	return jws.CompactSerialize()
}

func (k *key) signer(typ string) (gojose.Signer, error) {
	if s, ok := k.signers.Load(typ); ok {
		return s.(gojose.Signer), nil
	}
	opts := &gojose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(gojose.ContentType(typ))
	}
	s, err := gojose.NewSigner(gojose.SigningKey{
		Algorithm: gojose.SignatureAlgorithm(k.info.Alg),
		Key:       gojose.JSONWebKey{Key: k.private, KeyID: k.info.KID},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %w", k.info.KID, err)
	}
	actual, _ := k.signers.LoadOrStore(typ, s)
	return actual.(gojose.Signer), nil
}

// Verify checks a compact JWS signed by one of our published keys (active or
// retired) with an algorithm in algs, and returns its payload. The header
// must name the key by kid and its alg must be the key's. Claims are not
// checked: expiry, issuer and audience are the caller's job.
func (m *KeyManager) Verify(token string, algs []string) ([]byte, error) {
	set := m.set.Load()
	if set == nil {
		return nil, ErrNotInitialised
	}
	if len(token) > maxTokenBytes {
		return nil, fmt.Errorf("token larger than %d bytes", maxTokenBytes)
	}
	allowed := filterAlgs(algs, asymmetricAlgs)
	if len(allowed) == 0 {
		return nil, errors.New("no acceptable signature algorithm")
	}
	jws, err := gojose.ParseSignedCompact(token, allowed)
	if err != nil {
		return nil, fmt.Errorf("parse token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("token must carry exactly one signature")
	}
	h := jws.Signatures[0].Header
	k := set.byKID[h.KeyID]
	if k == nil {
		return nil, fmt.Errorf("token signed with unknown key %q", h.KeyID)
	}
	if h.Algorithm != k.info.Alg {
		return nil, fmt.Errorf("token algorithm %q does not match key %q (%s)", h.Algorithm, k.info.KID, k.info.Alg)
	}
	payload, err := jws.Verify(k.public.Key)
	if err != nil {
		return nil, fmt.Errorf("verify token signature: %w", err)
	}
	return payload, nil
}

// JWKS returns the JSON JWK set (RFC 7517 §5) of every published public key,
// each with kid, use "sig" and alg. The bytes are built once per key change
// and shared: callers must not modify them.
func (m *KeyManager) JWKS() []byte {
	if set := m.set.Load(); set != nil {
		return set.jwks
	}
	return []byte(`{"keys":[]}`)
}

// Algorithms returns the algorithms that have an active key, RS256, ES256
// and EdDSA first, for discovery metadata.
func (m *KeyManager) Algorithms() []string {
	if set := m.set.Load(); set != nil {
		return slices.Clone(set.algs)
	}
	return nil
}

// Keys describes every stored key as of the last load, oldest first.
func (m *KeyManager) Keys() []KeyInfo {
	if set := m.set.Load(); set != nil {
		return slices.Clone(set.infos)
	}
	return nil
}

// Run keeps the key set current until ctx ends: it refreshes on every
// message from changes (nil for none; a closed channel is ignored from then
// on), and every interval (one minute when ≤ 0) also deletes expired retired
// keys from the store and refreshes. Failures are logged and retried on the
// next tick; the last good key set stays in use.
func (m *KeyManager) Run(ctx context.Context, interval time.Duration, changes <-chan string) {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
			m.logRefresh(ctx)
		case <-t.C:
			n, err := m.cfg.Store.DeleteRetired(ctx, m.cfg.Now().UTC())
			if err != nil {
				m.cfg.Log.Error("delete retired signing keys", "err", err)
			} else if n > 0 {
				m.cfg.Log.Info("deleted retired signing keys", "count", n)
			}
			m.logRefresh(ctx)
		}
	}
}

func (m *KeyManager) logRefresh(ctx context.Context) {
	if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
		m.cfg.Log.Error("refresh signing keys", "err", err)
	}
}

// generate makes one new key per algorithm, private part sealed.
func (m *KeyManager) generate(algs []string) ([]*store.SigningKey, error) {
	now := m.cfg.Now().UTC()
	out := make([]*store.SigningKey, 0, len(algs))
	for _, alg := range algs {
		sk, err := newSigningKey(alg, m.cfg.RSABits, now, m.cfg.Sealer)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	return out, nil
}

func newSigningKey(alg string, rsaBits int, now time.Time, sealer *secret.Sealer) (*store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgRSAOAEP256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgECDHES:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("cannot generate keys for algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", alg, err)
	}
	jwk := gojose.JSONWebKey{Key: priv, Algorithm: alg, Use: keyUse(alg)}
	// RFC 7638 thumbprint as kid: stable, unique per key, derivable by anyone.
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint %s key: %w", alg, err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := json.Marshal(jwk.Public())
	if err != nil {
		return nil, fmt.Errorf("encode %s public key: %w", alg, err)
	}
	privJSON, err := json.Marshal(jwk)
	if err != nil {
		return nil, fmt.Errorf("encode %s private key: %w", alg, err)
	}
	defer clear(privJSON)
	sealed, err := sealer.Seal(privJSON, []byte(jwk.KeyID))
	if err != nil {
		return nil, fmt.Errorf("seal %s private key: %w", alg, err)
	}
	return &store.SigningKey{
		ID:            jwk.KeyID,
		Alg:           alg,
		Public:        pubJSON,
		PrivateSealed: sealed,
		CreatedAt:     now,
	}, nil
}

// setStamp summarises what a reload depends on, so an unchanged store
// costs no parsing. Publication depends on the clock too, hence the
// per-key published flag.
func setStamp(stored []*store.SigningKey, now time.Time) string {
	var b strings.Builder
	for _, sk := range stored {
		b.WriteString(sk.ID)
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(sk.RetiredAt.UnixNano(), 36))
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(sk.DeleteAfter.UnixNano(), 36))
		b.WriteByte('|')
		b.WriteString(strconv.FormatBool(published(sk, now)))
		b.WriteByte(';')
	}
	return b.String()
}

// published reports whether a stored key belongs in the JWK set at now.
func published(sk *store.SigningKey, now time.Time) bool {
	return sk.RetiredAt.IsZero() || now.Before(sk.DeleteAfter)
}

func (m *KeyManager) build(stored []*store.SigningKey, now time.Time, prev *keySet) (*keySet, error) {
	set := &keySet{
		active: make(map[string]*key),
		byKID:  make(map[string]*key),
		all:    make(map[string]*key, len(stored)),
	}
	var pubs []gojose.JSONWebKey
	for _, sk := range stored {
		info := KeyInfo{KID: sk.ID, Alg: sk.Alg, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt, DeleteAfter: sk.DeleteAfter}
		active := sk.RetiredAt.IsZero()
		// A retired encryption key still decrypts what clients encrypted
		// to it from a cached JWK set, so its private part stays open.
		withPrivate := active || (isEncAlg(sk.Alg) && published(sk, now))
		var k *key
		if old := prevKey(prev, sk.ID); old != nil && (old.private != nil || !withPrivate) {
			// Reuse the parsed key; a fresh struct keeps snapshots immutable
			// while the signer cache, keyed by the same private key, carries over.
			k = &key{info: info, public: old.public, private: old.private}
			if active {
				old.signers.Range(func(t, s any) bool { k.signers.Store(t, s); return true })
			}
		} else {
			parsed, err := m.parse(sk, withPrivate)
			if err != nil {
				return nil, err
			}
			parsed.info = info
			k = parsed
		}
		set.all[sk.ID] = k
		set.infos = append(set.infos, info)
		if active {
			// List is oldest first: a later active key for the same alg
			// (two rotations racing) wins.
			set.active[sk.Alg] = k
		}
		if published(sk, now) {
			set.byKID[sk.ID] = k
			pubs = append(pubs, k.public)
		}
	}
	for alg := range set.active {
		if !isEncAlg(alg) {
			set.algs = append(set.algs, alg)
		}
	}
	slices.SortFunc(set.algs, func(a, b string) int {
		ia, ib := slices.Index(defaultAlgorithms, a), slices.Index(defaultAlgorithms, b)
		if ia < 0 {
			ia = len(defaultAlgorithms)
		}
		if ib < 0 {
			ib = len(defaultAlgorithms)
		}
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	if pubs == nil {
		pubs = []gojose.JSONWebKey{}
	}
	jwks, err := json.Marshal(gojose.JSONWebKeySet{Keys: pubs})
	if err != nil {
		return nil, fmt.Errorf("encode JWK set: %w", err)
	}
	set.jwks = jwks
	return set, nil
}

func prevKey(prev *keySet, kid string) *key {
	if prev == nil {
		return nil
	}
	return prev.all[kid]
}

// parse decodes a stored key; the private part is opened only for active
// keys, since retired keys never sign again.
func (m *KeyManager) parse(sk *store.SigningKey, withPrivate bool) (*key, error) {
	var pub gojose.JSONWebKey
	if err := json.Unmarshal(sk.Public, &pub); err != nil {
		return nil, fmt.Errorf("decode public key %s: %w", sk.ID, err)
	}
	if !pub.IsPublic() || pub.KeyID != sk.ID || !(keyFitsAlg(pub.Key, sk.Alg) || keyFitsEncAlg(pub.Key, sk.Alg)) {
		return nil, fmt.Errorf("stored public key %s is not a %s public key with that kid", sk.ID, sk.Alg)
	}
	pub.Algorithm, pub.Use = sk.Alg, keyUse(sk.Alg)
	k := &key{public: pub}
	if !withPrivate {
		return k, nil
	}
	plain, err := m.cfg.Sealer.Open(sk.PrivateSealed, []byte(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("open private key %s (was it sealed under another master key?): %w", sk.ID, err)
	}
	defer clear(plain)
	var priv gojose.JSONWebKey
	if err := json.Unmarshal(plain, &priv); err != nil {
		return nil, fmt.Errorf("decode private key %s: %w", sk.ID, err)
	}
	signer, ok := priv.Key.(crypto.Signer)
	if !ok || priv.IsPublic() || !priv.Valid() {
		return nil, fmt.Errorf("stored private key %s is not a private key", sk.ID)
	}
	tp, err := priv.Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != sk.ID {
		return nil, fmt.Errorf("private key %s does not match its kid", sk.ID)
	}
	// go-jose fills Precomputed.Dp/Dq/Qinv but not the rest, so without
	// this every RS256 signature re-derives and re-checks the key
	// (rsa.(*PrivateKey).precompute and checkPrivateKey in the profiles,
	// docs/performance.md). Keys are parsed once per reload, so do it here.
	if rk, ok := signer.(*rsa.PrivateKey); ok {
		rk.Precompute()
	}
	k.private = signer
	return k, nil
}

func kids(keys []*store.SigningKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Alg + ":" + k.ID
	}
	return out
}
