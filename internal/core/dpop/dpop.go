// Package dpop is the DPoP policy (RFC 9449): which proofs the server
// accepts, single use of their "jti" across the cluster, and the server
// nonces of §8. Proof syntax and signatures are internal/jose's.
package dpop

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Scheme is the HTTP authentication scheme of DPoP-bound tokens (§7.1).
const Scheme = "DPoP"

// Header is the request header carrying the proof, and NonceHeader the
// response header carrying a server nonce.
const (
	Header      = "DPoP"
	NonceHeader = "DPoP-Nonce"
)

// Defaults of Verifier.
const (
	// DefaultMaxAge is how old a proof may be: RFC 9449 §11.1 asks for a
	// short window; one minute tolerates slow clients.
	DefaultMaxAge = time.Minute
	// DefaultSkew is how far ahead of our clock a proof's "iat" may be:
	// clients' clocks drift, and the FAPI 2.0 conformance suite expects a
	// proof dated 10 s ahead to pass.
	DefaultSkew = 30 * time.Second
	// DefaultNonceLifetime is how long a server nonce is accepted.
	DefaultNonceLifetime = 5 * time.Minute
)

// DefaultAlgs are the proof algorithms accepted unless configured: those
// the FAPI 2.0 Security Profile (§5.4.1) allows. RS256 (PKCS #1 v1.5) is
// left out, as that profile demands; dpop.algs may add it.
func DefaultAlgs() []string {
	return []string{oauth.AlgES256, oauth.AlgPS256, oauth.AlgEdDSA}
}

// Verifier checks DPoP proofs. Required: Algs, Replay, Now; Sealer when
// NonceRequired. Safe for concurrent use.
type Verifier struct {
	Algs []string
	// Replay makes "jti" single use; on Redis it is cluster-wide.
	Replay store.ReplayCache
	// NonceRequired makes every proof carry a nonce from NewNonce (§8).
	NonceRequired bool
	// Sealer seals nonces; every node has the same key, so a nonce from
	// one node is good at all.
	Sealer                 *secret.Sealer
	MaxAge, Skew, NonceTTL time.Duration
	Now                    func() time.Time
}

func (v *Verifier) maxAge() time.Duration { return or(v.MaxAge, DefaultMaxAge) }
func (v *Verifier) skew() time.Duration   { return or(v.Skew, DefaultSkew) }
func (v *Verifier) nonceTTL() time.Duration {
	return or(v.NonceTTL, DefaultNonceLifetime)
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Check verifies proof for a request (method and absolute URL), bound to
// accessToken when it is non-empty, and marks its "jti" used. Errors are
// *oauth.Error: invalid_dpop_proof (400), use_dpop_nonce (400, with a
// fresh nonce) or server_error; a resource turns the status into 401.
func (v *Verifier) Check(ctx context.Context, proof, method, url, accessToken string) (*jose.DPoPProof, error) {
	now := v.Now()
	p, err := jose.VerifyDPoPProof(proof, jose.DPoPCheck{
		Method: method, URL: url, Algs: v.Algs, AccessToken: accessToken,
		Now: now, MaxAge: v.maxAge(), Skew: v.skew(),
	})
	if err != nil {
		return nil, oauth.InvalidDPoPProof("invalid DPoP proof").WithCause(err)
	}
	if v.NonceRequired && !v.nonceOK(p.Nonce, now) {
		n, err := v.NewNonce()
		if err != nil {
			return nil, oauth.ServerError("internal error").WithCause(err)
		}
		return nil, oauth.UseDPoPNonce("the DPoP proof must carry the server nonce", n)
	}
	// Keyed by key and jti: two clients choosing the same jti do not
	// collide. Kept until the proof could no longer pass the iat window.
	until := p.IssuedAt.Add(v.maxAge() + v.skew())
	used, err := v.Replay.MarkUsed(ctx, secret.Hash("dpop:"+p.JKT+":"+p.JTI), until, now)
	if err != nil {
		return nil, oauth.ServerError("internal error").WithCause(err)
	}
	if used {
		return nil, oauth.InvalidDPoPProof("the DPoP proof was already used")
	}
	return p, nil
}

const nonceAD = "keyward dpop nonce"

// NewNonce returns a server nonce: the sealed issue time, so that any node
// can check it without shared state.
func (v *Verifier) NewNonce() (string, error) {
	if v.Sealer == nil {
		return "", errors.New("dpop: no sealer for nonces")
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v.Now().Unix()))
	sealed, err := v.Sealer.Seal(b[:], []byte(nonceAD))
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

func (v *Verifier) nonceOK(n string, now time.Time) bool {
	if n == "" || v.Sealer == nil || len(n) > 256 {
		return false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		return false
	}
	b, err := v.Sealer.Open(sealed, []byte(nonceAD))
	if err != nil || len(b) != 8 {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b)), 0)
	return !issued.After(now.Add(v.skew())) && now.Sub(issued) <= v.nonceTTL()
}
