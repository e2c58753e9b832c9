package jose

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gojose "github.com/go-jose/go-jose/v4"
)

// TypeDPoP is the "typ" of a DPoP proof (RFC 9449 §4.2).
const TypeDPoP = "dpop+jwt"

// maxDPoPProofLen bounds a proof before it is parsed: a header with an RSA
// 4096 public key and a few claims is under 2 KiB.
const maxDPoPProofLen = 8 << 10

// maxDPoPJTILen bounds the "jti" a client chooses; it is hashed before it
// reaches the replay cache, but a megabyte of it is never legitimate.
const maxDPoPJTILen = 256

// DPoPCheck is what a proof must match (RFC 9449 §4.3).
type DPoPCheck struct {
	// Method and URL are the request's: "htm" must equal Method, "htu"
	// must equal URL once both are normalised (NormalizeHTU).
	Method, URL string
	// Algs are the allowed JWS algorithms (public-key ones only).
	Algs []string
	// AccessToken, when non-empty, must be hashed in "ath" (§4.3 item 11:
	// proofs presented with an access token at a resource).
	AccessToken string
	// Now, MaxAge and Skew bound "iat": not older than MaxAge, not more
	// than Skew ahead.
	Now          time.Time
	MaxAge, Skew time.Duration
}

// DPoPProof is a verified proof.
type DPoPProof struct {
	// JKT is the base64url SHA-256 JWK thumbprint (RFC 7638) of the proof
	// key: the value of "cnf.jkt" and of "dpop_jkt".
	JKT      string
	JTI      string
	IssuedAt time.Time
	// Nonce is the "nonce" claim, empty when absent; the caller judges it.
	Nonce string
}

type dpopClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.Number     `json:"iat"`
	ATH   string          `json:"ath"`
	Nonce json.RawMessage `json:"nonce"`
}

// VerifyDPoPProof checks a DPoP proof JWT against c: "typ" dpop+jwt, an
// allowed asymmetric "alg", a public "jwk" header that verifies the
// signature and fits the algorithm, "htm", "htu", "iat" in the window, a
// "jti", and "ath" when c.AccessToken is set. Single use of "jti" and the
// server nonce are the caller's (internal/core/dpop): they need shared
// state. The error says what is wrong, for logs; clients get
// invalid_dpop_proof without it.
func VerifyDPoPProof(proof string, c DPoPCheck) (*DPoPProof, error) {
	if proof == "" {
		return nil, errors.New("empty proof")
	}
	if len(proof) > maxDPoPProofLen {
		return nil, errors.New("proof too large")
	}
	algs := filterAlgs(c.Algs, asymmetricAlgs)
	if len(algs) == 0 {
		return nil, errors.New("no DPoP algorithm allowed")
	}
	jws, err := gojose.ParseSignedCompact(proof, algs)
	if err != nil {
		return nil, fmt.Errorf("parse proof: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("proof must have exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[gojose.HeaderType].(string); typ != TypeDPoP {
		return nil, fmt.Errorf("typ %q is not %s", typ, TypeDPoP)
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return nil, errors.New("no jwk header")
	}
	// go-jose refuses an embedded private key while parsing; checked again
	// here because a proof carrying a private key must never be accepted
	// (RFC 9449 §4.3 item 7), whatever the library does.
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, errors.New("jwk is not a valid public key")
	}
	if !keyFitsAlg(jwk.Key, h.Algorithm) {
		return nil, fmt.Errorf("jwk does not fit alg %s", h.Algorithm)
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var cl dpopClaims
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if cl.JTI == "" || len(cl.JTI) > maxDPoPJTILen {
		return nil, errors.New("missing or oversized jti")
	}
	if cl.HTM != c.Method {
		return nil, fmt.Errorf("htm %q does not match %s", cl.HTM, c.Method)
	}
	want, err := NormalizeHTU(c.URL)
	if err != nil {
		return nil, fmt.Errorf("request URL: %w", err)
	}
	got, err := NormalizeHTU(cl.HTU)
	if err != nil || got != want {
		return nil, fmt.Errorf("htu %q does not match %s", cl.HTU, want)
	}
	iat, err := cl.IAT.Int64()
	if err != nil {
		return nil, errors.New("missing or malformed iat")
	}
	issued := time.Unix(iat, 0)
	if issued.Before(c.Now.Add(-c.MaxAge)) || issued.After(c.Now.Add(c.Skew)) {
		return nil, fmt.Errorf("iat %d outside the accepted window", iat)
	}
	if c.AccessToken != "" {
		sum := sha256.Sum256([]byte(c.AccessToken))
		if cl.ATH != base64.RawURLEncoding.EncodeToString(sum[:]) {
			return nil, errors.New("ath does not match the access token")
		}
	}
	var nonce string
	if len(cl.Nonce) > 0 && string(cl.Nonce) != "null" {
		if err := json.Unmarshal(cl.Nonce, &nonce); err != nil {
			return nil, errors.New("nonce is not a string")
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("thumbprint: %w", err)
	}
	return &DPoPProof{
		JKT: base64.RawURLEncoding.EncodeToString(tp), JTI: cl.JTI,
		IssuedAt: issued, Nonce: nonce,
	}, nil
}

// NormalizeHTU returns u without query and fragment, with scheme and host
// in lower case, the default port removed and an empty path as "/": the
// comparison of RFC 9449 §4.3 item 9 with the syntax- and scheme-based
// normalisation of RFC 3986 §6.2.2 and §6.2.3.
func NormalizeHTU(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	scheme := strings.ToLower(p.Scheme)
	if (scheme != "https" && scheme != "http") || p.Host == "" || p.User != nil {
		return "", fmt.Errorf("not an absolute http(s) URL")
	}
	host, port := strings.ToLower(p.Hostname()), p.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	path := p.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path, nil
}
