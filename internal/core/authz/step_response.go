package authz

import (
	"context"
	"slices"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// supportedResponseTypes are the response types this build can complete,
// each as a sorted token list. Implicit and hybrid types would be added
// here together with their final-response parameters (response.go).
func supportedResponseTypes() [][]string {
	return [][]string{{oauth.ResponseTypeCode}}
}

func responseTypeTokens(s string) []string {
	toks := strings.Fields(s)
	slices.Sort(toks)
	return slices.Compact(toks)
}

// stepResponseType checks response_type (RFC 6749 §3.1.1): missing is
// invalid_request; a type we do not support, or the client did not
// register (default "code", RFC 7591 §2), is unsupported_response_type.
func stepResponseType(_ context.Context, _ *Service, f *flow) error {
	rt := f.params.Get("response_type")
	if rt == "" {
		return oauth.InvalidRequest("missing response_type parameter")
	}
	toks := responseTypeTokens(rt)
	if !slices.ContainsFunc(supportedResponseTypes(), func(s []string) bool { return slices.Equal(s, toks) }) {
		return oauth.UnsupportedResponseType("unsupported response_type")
	}
	registered := f.client.Metadata.ResponseTypes
	if len(registered) == 0 {
		registered = []string{oauth.ResponseTypeCode}
	}
	if !slices.ContainsFunc(registered, func(r string) bool { return slices.Equal(responseTypeTokens(r), toks) }) {
		return oauth.UnsupportedResponseType("the response_type is not registered for the client")
	}
	f.req.ResponseType = toks
	return nil
}

// stepResponseMode checks response_mode (OAuth 2.0 Multiple Response Types
// §2.1, Form Post Response Mode §2). Fragment is allowed with code.
func stepResponseMode(_ context.Context, s *Service, f *flow) error {
	switch m := f.params.Get("response_mode"); m {
	case "":
	case oauth.ResponseModeQuery, oauth.ResponseModeFragment, oauth.ResponseModeFormPost:
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
	if v := params["response_mode"]; len(v) == 1 {
		switch v[0] {
		case oauth.ResponseModeQuery, oauth.ResponseModeFragment, oauth.ResponseModeFormPost:
			return v[0]
		}
	}
	rt := req.responseType
	if rt == nil {
		if v := params["response_type"]; len(v) == 1 {
			rt = responseTypeTokens(v[0])
		}
	}
	if slices.Contains(rt, oauth.ResponseTypeToken) || slices.Contains(rt, oauth.ResponseTypeIDToken) {
		return oauth.ResponseModeFragment
	}
	return oauth.ResponseModeQuery
}

type responseModeInput struct {
	mode         string
	responseType []string
}
