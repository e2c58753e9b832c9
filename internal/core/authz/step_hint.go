package authz

import (
	"context"
	"slices"

	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/idhint"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
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

// hintSubject returns the subject of an ID token hint issued to clientID:
// the subject as that client knows it (pairwise for a pairwise client,
// OIDC Core §8.1), so compare it with clientSubject.
func (s *Service) hintSubject(hint, clientID string) (string, error) {
	if s.IDTokens == nil {
		return "", errBadHint("no key manager")
	}
	claims, err := idhint.Verify(s.IDTokens, s.Config.Issuer, s.cfg().IDTokenHintAlgs, hint)
	if err != nil {
		return "", err
	}
	if !slices.Contains(claims.Aud, clientID) {
		return "", errBadHint("not issued to the requesting client")
	}
	return claims.Sub, nil
}

// clientSubject is the subject identifier client knows for sub, as its ID
// tokens carry it.
func (s *Service) clientSubject(client *store.Client, sub string) string {
	return clientreg.ClientSubject(s.PairwiseSalt, client, sub)
}
