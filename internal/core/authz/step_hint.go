package authz

import (
	"context"
	"encoding/json"

	"github.com/keyward/keyward/oauth"
)

// stepIDTokenHint verifies id_token_hint (OIDC Core §3.1.2.1): signed by us
// with an asymmetric algorithm, issued by our issuer; expiry does not matter.
// Its subject becomes the required subject of the request.
func stepIDTokenHint(_ context.Context, s *Service, f *flow) error {
	hint := f.params.Get("id_token_hint")
	if hint == "" {
		return nil
	}
	sub, err := s.hintSubject(hint)
	if err != nil {
		return err
	}
	f.req.IDTokenHint = hint
	f.hintSub = sub
	return nil
}

func (s *Service) hintSubject(hint string) (string, error) {
	bad := oauth.InvalidRequest("invalid id_token_hint")
	if s.IDTokens == nil {
		return "", bad
	}
	payload, err := s.IDTokens.Verify(hint, s.cfg().IDTokenHintAlgs)
	if err != nil {
		return "", bad.WithCause(err)
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Iss != s.Config.Issuer || claims.Sub == "" {
		return "", bad
	}
	return claims.Sub, nil
}
