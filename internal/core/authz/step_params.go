package authz

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// stepNonce keeps the nonce (OIDC Core §3.1.2.1). It is optional for the
// code flow, and required whenever the authorisation endpoint returns an ID
// token (§3.2.2.1, §3.3.2.11), which also needs the openid scope.
func stepNonce(_ context.Context, _ *Service, f *flow) error {
	f.req.Nonce = f.params.Get("nonce")
	if slices.Contains(f.req.ResponseType, oauth.ResponseTypeIDToken) {
		if !f.openID {
			return oauth.InvalidRequest("response_type id_token requires the openid scope")
		}
		if f.req.Nonce == "" {
			return oauth.InvalidRequest("missing nonce: required when the authorization endpoint returns an ID token")
		}
	}
	return nil
}

// stepState keeps state for the response (RFC 6749 §4.1.1); Start has
// bounded it (oauth.MaxParamBytes) and refused control characters, so
// what is echoed is printable text.
func stepState(_ context.Context, _ *Service, f *flow) error {
	f.req.State = f.params.Get("state")
	return nil
}

// promptSet is the parsed prompt parameter.
type promptSet []string

func (p promptSet) has(v string) bool { return slices.Contains(p, v) }

// stepPrompt parses prompt (OIDC Core §3.1.2.1, Initiating User
// Registration §4): known values only; none and create stand alone.
func stepPrompt(_ context.Context, _ *Service, f *flow) error {
	var p promptSet
	for _, v := range strings.Fields(f.params.Get("prompt")) {
		switch v {
		case oauth.PromptNone, oauth.PromptLogin, oauth.PromptConsent, oauth.PromptSelectAccount, oauth.PromptCreate:
		default:
			return oauth.InvalidRequest("unsupported prompt value")
		}
		if !p.has(v) {
			p = append(p, v)
		}
	}
	if len(p) > 1 && p.has(oauth.PromptNone) {
		return oauth.InvalidRequest("prompt none must not be combined with other values")
	}
	if len(p) > 1 && p.has(oauth.PromptCreate) {
		return oauth.InvalidRequest("prompt create must not be combined with other values")
	}
	f.prompt = p
	f.req.Prompt = p
	return nil
}

// stepMaxAge parses max_age: a non-negative integer of seconds (OIDC Core
// §3.1.2.1).
func stepMaxAge(_ context.Context, _ *Service, f *flow) error {
	v := f.params.Get("max_age")
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || v[0] == '+' {
		return oauth.InvalidRequest("max_age must be a non-negative integer")
	}
	f.req.MaxAge = &n
	return nil
}

// stepDisplay checks display (OIDC Core §3.1.2.1).
func stepDisplay(_ context.Context, _ *Service, f *flow) error {
	switch d := f.params.Get("display"); d {
	case "", oauth.DisplayPage, oauth.DisplayPopup, oauth.DisplayTouch, oauth.DisplayWAP:
		f.req.Display = d
		return nil
	default:
		return oauth.InvalidRequest("unsupported display value")
	}
}

// stepHints keeps the parameters that only inform the login UI and the
// claims sources: acr_values, login_hint, ui_locales, claims_locales (OIDC
// Core §3.1.2.1, §5.2).
func stepHints(_ context.Context, _ *Service, f *flow) error {
	f.req.ACRValues = strings.Fields(f.params.Get("acr_values"))
	f.req.LoginHint = f.params.Get("login_hint")
	f.req.UILocales = strings.Fields(f.params.Get("ui_locales"))
	f.req.ClaimsLocales = strings.Fields(f.params.Get("claims_locales"))
	return nil
}

// stepClaims parses the claims parameter (OIDC Core §5.5).
func stepClaims(_ context.Context, _ *Service, f *flow) error {
	v := f.params.Get("claims")
	if v == "" {
		return nil
	}
	cr, err := oauth.ParseClaimsRequest(v)
	if err != nil {
		return oauth.InvalidRequest("malformed claims parameter").WithCause(err)
	}
	f.req.Claims = cr
	return nil
}

// stepPurpose keeps the transaction-level purpose (OpenID Connect for
// Identity Assurance 1.0 §8): 3 to 300 characters, shown on the consent
// screen.
func stepPurpose(_ context.Context, _ *Service, f *flow) error {
	v := f.params.Get("purpose")
	if v == "" {
		return nil
	}
	if !oauth.ValidPurpose(v) {
		return oauth.InvalidRequest("purpose must be 3 to 300 characters")
	}
	f.req.Purpose = v
	return nil
}
