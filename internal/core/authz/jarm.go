package authz

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/oauth"
)

// ResponseSigner signs JWT-secured authorisation responses with our keys
// and names the algorithms it has a key for (the key manager).
type ResponseSigner interface {
	Sign(alg, typ string, claims any) (string, error)
	Algorithms() []string
}

// DefaultJARMAlg signs a client's JWT responses when it registered no
// authorization_signed_response_alg (JARM §3).
const DefaultJARMAlg = oauth.AlgRS256

// jarmLifetime is the exp of a response JWT: JARM §4.1 recommends a short
// one, and the response is used within seconds of its issue.
const jarmLifetime = 10 * time.Minute

func isJARMMode(m string) bool { return slices.Contains(oauth.JARMResponseModes(), m) }

// resolveJARMMode turns "jwt" into the response type's default (JARM
// §2.3.4): fragment.jwt when tokens are returned from the authorisation
// endpoint, query.jwt otherwise.
func resolveJARMMode(mode string, rt []string) string {
	if mode != oauth.ResponseModeJWT {
		return mode
	}
	if slices.Contains(rt, oauth.ResponseTypeToken) || slices.Contains(rt, oauth.ResponseTypeIDToken) {
		return oauth.ResponseModeFragmentJWT
	}
	return oauth.ResponseModeQueryJWT
}

// jarmAlg is the client's response signing algorithm; ok is false when we
// cannot sign with it (no signer, or no key for the algorithm).
func (s *Service) jarmAlg(f *flow) (string, bool) {
	if s.Responses == nil {
		return "", false
	}
	alg := f.client.Metadata.AuthorizationSignedResponseAlg
	if alg == "" {
		alg = DefaultJARMAlg
	}
	return alg, slices.Contains(s.Responses.Algorithms(), alg)
}

// checkJARMMode accepts a JWT response mode when we can sign for the
// client, and records the resolved mode and the algorithm for the final
// response.
func (s *Service) checkJARMMode(f *flow, mode string) error {
	if s.Responses == nil {
		return oauth.InvalidRequest("unsupported response_mode")
	}
	alg, ok := s.jarmAlg(f)
	if !ok {
		return oauth.InvalidRequest("the client's authorization_signed_response_alg " + alg + " has no signing key")
	}
	f.req.ResponseMode = resolveJARMMode(mode, f.req.ResponseType)
	// JARM §2.3.1: query.jwt carries tokens only when the JWT is
	// encrypted, and Keyward signs without encrypting.
	if f.req.ResponseMode == oauth.ResponseModeQueryJWT && frontChannelTokens(f.req.ResponseType) {
		f.req.ResponseMode = ""
		return oauth.InvalidRequest("response_mode query.jwt is not allowed with a response_type that returns tokens")
	}
	f.req.ResponseSigningAlg = alg
	return nil
}

// jarmErrorMode is the JWT mode of an error found before the
// response_mode step accepted the mode, so that a client that asked for
// signed responses gets its errors signed too (JARM §2.2).
func (s *Service) jarmErrorMode(f *flow) (mode, alg string, ok bool) {
	if isJARMMode(f.req.ResponseMode) && f.req.ResponseSigningAlg != "" {
		return f.req.ResponseMode, f.req.ResponseSigningAlg, true
	}
	m, single := single(f.params, "response_mode")
	if !single || !isJARMMode(m) || f.client == nil {
		return "", "", false
	}
	alg, ok = s.jarmAlg(f)
	if !ok {
		return "", "", false
	}
	rt := f.req.ResponseType
	if rt == nil {
		rt = responseTypeTokens(f.params.Get("response_type"))
	}
	return resolveJARMMode(m, rt), alg, true
}

// jarmResponse packs the response parameters, state, iss, aud (the client)
// and exp into a JWT signed with alg (JARM §2.1) and delivers it as the
// "response" parameter in the mode's base transport (JARM §2.3). The
// message's mode stays the JWT one, as Connect2id reports it.
func (s *Service) jarmResponse(redirectURI, mode, clientID, alg, state string, v url.Values) *Message {
	claims := make(map[string]any, len(v)+4)
	for k := range v {
		claims[k] = v.Get(k)
	}
	if state != "" {
		claims["state"] = state
	}
	claims["iss"] = s.Config.Issuer
	claims["aud"] = clientID
	claims["exp"] = s.now().Add(jarmLifetime).Unix()
	jwt, err := s.Responses.Sign(alg, "", claims)
	if err != nil {
		// Only a key removed between request and response gets here.
		s.log().Error("sign JWT authorisation response", "alg", alg, "err", err)
		return errorMessage(oauth.ServerError("the authorisation response could not be signed"))
	}
	msg := buildResponse(redirectURI, strings.TrimSuffix(mode, ".jwt"), "", "", url.Values{"response": {jwt}})
	msg.Mode = mode
	return msg
}
