package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// stepIDTokenHint verifies id_token_hint (OIDC Core §3.1.2.1): it must be an
// ID token we issued to this client — signed by us with an asymmetric
// algorithm, typ JWT or none (never an at+jwt access token, RFC 9068 §4),
// our issuer, an audience naming the requesting client. Expiry does not
// matter. Its subject becomes the required subject of the request. Any other
// hint is invalid_request, or login_required under prompt=none (OIDC Core
// §3.1.2.6), since no silent answer can be given for it.
func stepIDTokenHint(_ context.Context, s *Service, f *flow) error {
	hint := f.params.Get("id_token_hint")
	if hint == "" {
		return nil
	}
	sub, err := s.hintSubject(hint, f.client.ID)
	if err != nil {
		if f.prompt.has(oauth.PromptNone) {
			return oauth.LoginRequired("invalid id_token_hint").WithCause(err)
		}
		return oauth.InvalidRequest("invalid id_token_hint").WithCause(err)
	}
	f.req.IDTokenHint = hint
	f.hintSub = sub
	return nil
}

// errBadHint is the cause of a hint that is not one of our ID tokens for the
// client; only the logs see it.
type errBadHint string

func (e errBadHint) Error() string { return "id_token_hint: " + string(e) }

// hintSubject returns the subject of an ID token hint issued to clientID.
func (s *Service) hintSubject(hint, clientID string) (string, error) {
	if s.IDTokens == nil {
		return "", errBadHint("no key manager")
	}
	payload, err := s.IDTokens.Verify(hint, s.cfg().IDTokenHintAlgs)
	if err != nil {
		return "", err
	}
	// The signature covers the header, so its typ can be trusted now.
	if typ, ok := jwsTyp(hint); !ok || (typ != "" && !strings.EqualFold(typ, "JWT") && !strings.EqualFold(typ, "application/jwt")) {
		return "", errBadHint("not an ID token (typ " + typ + ")")
	}
	var claims struct {
		Iss string   `json:"iss"`
		Sub string   `json:"sub"`
		Aud audience `json:"aud"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", errBadHint("malformed claims")
	}
	if claims.Iss != s.Config.Issuer || claims.Sub == "" {
		return "", errBadHint("wrong issuer or no subject")
	}
	if !slices.Contains(claims.Aud, clientID) {
		return "", errBadHint("not issued to the requesting client")
	}
	return claims.Sub, nil
}

// audience is a JWT "aud": one string or an array (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// jwsTyp returns the "typ" header of a compact JWS.
func jwsTyp(token string) (string, bool) {
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
