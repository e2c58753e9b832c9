package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// supportedResponseTypes are the response types this build can complete,
// each as a sorted token list: code (OAuth 2.0), and the implicit and
// hybrid types of OIDC Core §3.2 and §3.3. The types that return an access
// token from the authorisation endpoint are left out when the operator
// switched them off (Config.DisallowImplicitAccessTokens). Plain "token"
// (OAuth implicit without OpenID) is not offered.
func (c Config) supportedResponseTypes() [][]string {
	out := [][]string{
		{oauth.ResponseTypeCode},
		{oauth.ResponseTypeIDToken},
		{oauth.ResponseTypeCode, oauth.ResponseTypeIDToken},
	}
	if !c.DisallowImplicitAccessTokens {
		out = append(out,
			[]string{oauth.ResponseTypeIDToken, oauth.ResponseTypeToken},
			[]string{oauth.ResponseTypeCode, oauth.ResponseTypeToken},
			[]string{oauth.ResponseTypeCode, oauth.ResponseTypeIDToken, oauth.ResponseTypeToken})
	}
	return out
}

// responseTypeTokens returns the values of a response_type as a sorted set,
// for comparing response types regardless of order (OAuth 2.0 Multiple
// Response Type Encoding Practices §5).
func responseTypeTokens(s string) []string {
	toks := strings.Fields(s)
	slices.Sort(toks)
	return slices.Compact(toks)
}

// parseResponseType splits a response_type into its sorted values. The
// values are separated by single spaces (RFC 6749 §3.1.1); an empty value
// or one given twice makes the parameter malformed: invalid_request.
func parseResponseType(v string) ([]string, error) {
	toks := strings.Split(v, " ")
	if slices.Contains(toks, "") {
		return nil, oauth.InvalidRequest("malformed response_type")
	}
	slices.Sort(toks)
	if len(slices.Compact(slices.Clone(toks))) != len(toks) {
		return nil, oauth.InvalidRequest("response_type repeats a value")
	}
	return toks, nil
}

// stepResponseType checks response_type (RFC 6749 §3.1.1, OIDC Core
// §3.1.2.1): missing or malformed is invalid_request; a combination we do
// not support (or that the operator switched off) is
// unsupported_response_type; a supported one the client did not register
// (default "code", RFC 7591 §2) is unauthorized_client (RFC 6749 §4.1.2.1).
func stepResponseType(_ context.Context, s *Service, f *flow) error {
	rt := f.params.Get("response_type")
	if rt == "" {
		return oauth.InvalidRequest("missing response_type parameter")
	}
	toks, err := parseResponseType(rt)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(s.Config.supportedResponseTypes(), func(s []string) bool { return slices.Equal(s, toks) }) {
		return oauth.UnsupportedResponseType("unsupported response_type")
	}
	registered := f.client.Metadata.ResponseTypes
	if len(registered) == 0 {
		registered = []string{oauth.ResponseTypeCode}
	}
	if !slices.ContainsFunc(registered, func(r string) bool { return slices.Equal(responseTypeTokens(r), toks) }) {
		return oauth.UnauthorizedClient("the response_type is not registered for the client")
	}
	// An access token from the authorisation endpoint cannot be bound to a
	// key the browser never proves (RFC 9449 §10, RFC 8705 §3): a client
	// that requires bound tokens gets none there.
	if slices.Contains(toks, oauth.ResponseTypeToken) &&
		(f.client.Metadata.DPoPBoundAccessTokens || f.client.Metadata.TLSClientCertificateBoundAccessTokens) {
		return oauth.UnauthorizedClient("the client requires sender-constrained access tokens, which the authorisation endpoint cannot issue")
	}
	f.req.ResponseType = toks
	return nil
}

// frontChannelTokens reports whether a response type returns a token
// (access or ID token) from the authorisation endpoint.
func frontChannelTokens(rt []string) bool {
	return slices.Contains(rt, oauth.ResponseTypeToken) || slices.Contains(rt, oauth.ResponseTypeIDToken)
}

// stepResponseMode checks response_mode (OAuth 2.0 Multiple Response Types
// §2.1, Form Post Response Mode §2). Fragment is allowed with code; query
// is refused for the response types that return tokens.
func stepResponseMode(_ context.Context, s *Service, f *flow) error {
	switch m := f.params.Get("response_mode"); m {
	case "":
	case oauth.ResponseModeQuery:
		// Tokens in the query leak into logs and Referer headers (OAuth 2.0
		// Multiple Response Type Encoding Practices §5).
		if frontChannelTokens(f.req.ResponseType) {
			return oauth.InvalidRequest("response_mode query is not allowed with a response_type that returns tokens")
		}
		f.req.ResponseMode = m
	case oauth.ResponseModeFragment, oauth.ResponseModeFormPost:
		f.req.ResponseMode = m
	case oauth.ResponseModeQueryJWT, oauth.ResponseModeFragmentJWT, oauth.ResponseModeFormPostJWT, oauth.ResponseModeJWT:
		return s.checkJARMMode(f, m)
	default:
		return oauth.InvalidRequest("unsupported response_mode")
	}
	return nil
}

// responseMode is the mode of the final response: the requested one when
// valid, else the default of the response type (query for code, fragment
// when tokens are returned from the authorisation endpoint). It is usable
// for error responses before response_type and response_mode were
// validated.
func responseMode(params map[string][]string, req responseModeInput) string {
	if req.mode != "" {
		return req.mode
	}
	rt := req.responseType
	if rt == nil {
		if v := params["response_type"]; len(v) == 1 {
			rt = responseTypeTokens(v[0])
		}
	}
	if v := params["response_mode"]; len(v) == 1 {
		switch v[0] {
		case oauth.ResponseModeQuery:
			// Refused with a token response type: the error goes to the
			// fragment, the type's default.
			if !frontChannelTokens(rt) {
				return v[0]
			}
		case oauth.ResponseModeFragment, oauth.ResponseModeFormPost:
			return v[0]
		}
	}
	if frontChannelTokens(rt) {
		return oauth.ResponseModeFragment
	}
	return oauth.ResponseModeQuery
}

type responseModeInput struct {
	mode         string
	responseType []string
}
