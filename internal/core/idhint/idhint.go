// Package idhint verifies an id_token_hint: an ID token this provider
// issued, presented back by a client in an authentication request (OIDC
// Core §3.1.2.1) or a logout request (RP-Initiated Logout 1.0 §2). The
// authorisation pipeline and logout share it, so both accept exactly the
// same hints.
package idhint

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// Verifier checks a compact JWS against the provider's signing keys and
// returns its payload (jose.KeyManager).
type Verifier interface {
	Verify(token string, algs []string) ([]byte, error)
}

// Claims are the claims of a hint that its users read.
type Claims struct {
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Aud Audience `json:"aud"`
	Azp string   `json:"azp"`
}

// Client returns the client the ID token was issued to: azp, else the
// single audience; "" when the token names several and no azp.
func (c *Claims) Client() string {
	if c.Azp != "" {
		return c.Azp
	}
	if len(c.Aud) == 1 {
		return c.Aud[0]
	}
	return ""
}

// Verify checks hint: signed by v with one of algs, an ID token (typ JWT
// or none — never an at+jwt access token, RFC 9068 §4), issuer iss, a
// subject. Expiry does not matter: both specifications let an expired
// hint through. The error is for logs only.
func Verify(v Verifier, iss string, algs []string, hint string) (*Claims, error) {
	payload, err := v.Verify(hint, algs)
	if err != nil {
		return nil, err
	}
	// The signature covers the header, so its typ can be trusted now.
	if typ, ok := headerTyp(hint); !ok || (typ != "" && !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt")) {
		return nil, errors.New("id_token_hint: not an ID token (typ " + typ + ")")
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("id_token_hint: malformed claims")
	}
	if c.Iss != iss || c.Sub == "" {
		return nil, errors.New("id_token_hint: wrong issuer or no subject")
	}
	return &c, nil
}

// Audience is a JWT "aud": one string or an array (RFC 7519 §4.1.3).
type Audience []string

// UnmarshalJSON accepts both forms.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = Audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// headerTyp returns the "typ" header of a compact JWS.
func headerTyp(token string) (string, bool) {
	head, _, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", false
	}
	var h struct {
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return "", false
	}
	return h.Typ, true
}
