package authz

import (
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// finalSuccess is the successful authorisation response with iss
// (RFC 9207): v holds the code (RFC 6749 §4.1.2) and/or the tokens of an
// implicit or hybrid response (OIDC Core §3.2.2.5, §3.3.2.5).
func (s *Service) finalSuccess(a *store.AuthzSession, v url.Values) *Message {
	return s.finalResponse(a, v)
}

// finalError delivers e to the client's redirect URI (RFC 6749 §4.1.2.1)
// with state and iss.
func (s *Service) finalError(a *store.AuthzSession, e *oauth.Error) *Message {
	return s.finalResponse(a, errorValues(e))
}

func errorValues(e *oauth.Error) url.Values {
	v := url.Values{}
	v.Set("error", e.Code)
	if d := sanitize(e.Description); d != "" {
		v.Set("error_description", d)
	}
	if e.URI != "" {
		v.Set("error_uri", e.URI)
	}
	return v
}

func (s *Service) finalResponse(a *store.AuthzSession, v url.Values) *Message {
	mode := responseMode(a.Request.Params, responseModeInput{a.Request.ResponseMode, a.Request.ResponseType})
	var msg *Message
	if isJARMMode(mode) {
		msg = s.jarmResponse(a.Request.RedirectURI, mode, a.Request.ClientID, a.Request.ResponseSigningAlg, a.Request.State, v)
	} else {
		msg = buildResponse(a.Request.RedirectURI, mode, a.Request.State, s.Config.Issuer, v)
	}
	if a.NewSubjectSession && a.SubjectSessionID != "" {
		msg.SubSID = session.SIDForKey(s.SubjectSessions.MACKey, a.SubjectSessionID)
	}
	return msg
}

// requestErrorResponse redirects a pipeline error once the redirect URI is
// verified; state comes from the raw parameters because the failing step
// may precede the state step.
func (s *Service) requestErrorResponse(f *flow, e *oauth.Error) *Message {
	state, _ := single(f.params, "state")
	if mode, alg, ok := s.jarmErrorMode(f); ok {
		return s.jarmResponse(f.req.RedirectURI, mode, f.client.ID, alg, state, errorValues(e))
	}
	mode := responseMode(f.params, responseModeInput{f.req.ResponseMode, f.req.ResponseType})
	return buildResponse(f.req.RedirectURI, mode, state, s.Config.Issuer, errorValues(e))
}

// buildResponse encodes the response parameters for the mode (OAuth 2.0
// Multiple Response Types §2.1, Form Post Response Mode §2). redirectURI has
// been verified against the client's registration.
func buildResponse(redirectURI, mode, state, issuer string, v url.Values) *Message {
	if state != "" {
		v.Set("state", state)
	}
	if issuer != "" {
		v.Set("iss", issuer)
	}
	msg := &Message{Type: TypeResponse, Mode: mode}
	switch mode {
	case oauth.ResponseModeFormPost:
		form := make(map[string]string, len(v))
		for k := range v {
			form[k] = v.Get(k)
		}
		msg.Parameters = &RespParameters{URI: redirectURI, Form: form}
	case oauth.ResponseModeFragment:
		base, _, _ := strings.Cut(redirectURI, "#")
		msg.Parameters = &RespParameters{URI: base + "#" + v.Encode()}
	default:
		base, frag, hasFrag := strings.Cut(redirectURI, "#")
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
			if strings.HasSuffix(base, "?") || strings.HasSuffix(base, "&") {
				sep = ""
			}
		}
		uri := base + sep + v.Encode()
		if hasFrag {
			uri += "#" + frag
		}
		msg.Parameters = &RespParameters{URI: uri}
	}
	return msg
}

// sanitize drops the characters RFC 6749 §4.1.2.1 does not allow in
// error_description, so that no description can break the response.
func sanitize(s string) string {
	if oauth.ValidErrorCode(s) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if oauth.ValidErrorCode(s[i : i+1]) {
			b = append(b, s[i])
		}
	}
	return string(b)
}
