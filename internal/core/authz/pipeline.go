package authz

import (
	"context"
	"net/url"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// flow is the state of one request while the pipeline validates it.
type flow struct {
	params url.Values
	now    time.Time
	client *store.Client
	req    store.AuthzRequest
	// pushed is set when the parameters came from a pushed request
	// (RFC 9126), and during Push itself.
	pushed bool
	// atPush is set while Push validates a request for the PAR endpoint.
	atPush bool
	// redirectVerified is set once req.RedirectURI is a registered URI of
	// the client: only then may errors be sent to it.
	redirectVerified bool
	openID           bool
	prompt           promptSet
	// hintSub is the subject of a verified id_token_hint.
	hintSub string
	// templateParam fills "[param]" of a redirect URI template.
	templateParam string
}

// step is one named validation of the pipeline. A step returns an
// *oauth.Error for a protocol failure; any other error is internal.
type step struct {
	name string
	run  func(ctx context.Context, s *Service, f *flow) error
	// atPush marks steps that also validate a pushed request (RFC 9126
	// §2.1); the others concern the front-channel request only.
	atPush bool
}

// pipeline is the ordered list of steps (see doc.go). Order matters: steps
// before redirect_uri produce non-redirectable errors.
func pipeline() []step {
	return []step{
		{"client_id", stepClientID, false},
		{"client", stepClient, false},
		{"pushed_request", stepPushedRequest, false},
		// The request object may hold redirect_uri (RFC 9101 §6).
		{"request_object", stepRequestObject, true},
		{"redirect_uri", stepRedirectURI, true},
		{"duplicates", stepDuplicates, true},
		{"par_required", stepPARRequired, false},
		{"response_type", stepResponseType, true},
		{"response_mode", stepResponseMode, true},
		{"scope", stepScope, true},
		{"pkce", stepPKCE, true},
		{"dpop_jkt", stepDPoPJKT, true},
		{"nonce", stepNonce, true},
		{"state", stepState, true},
		{"prompt", stepPrompt, true},
		{"max_age", stepMaxAge, true},
		{"display", stepDisplay, true},
		{"hints", stepHints, true},
		{"claims", stepClaims, true},
		{"purpose", stepPurpose, true},
		{"id_token_hint", stepIDTokenHint, true},
		{"resource", stepResource, true},
		{"authorization_details", stepAuthorizationDetails, true},
		{"profile", stepProfile, true},
	}
}

// validate runs the pipeline. It returns the first step's *oauth.Error (as
// err) or an internal error.
func (s *Service) validate(ctx context.Context, f *flow, push bool) error {
	f.atPush = push
	for _, st := range pipeline() {
		if push && !st.atPush {
			continue
		}
		if err := st.run(ctx, s, f); err != nil {
			if oe := oauth.AsError(err); oe != nil {
				s.log().DebugContext(ctx, "authorisation request rejected", "step", st.name, "error", oe.Code)
			}
			return err
		}
	}
	f.req.Params = map[string][]string(f.params)
	return nil
}

// single returns the value of a parameter that may appear at most once
// (RFC 6749 §3.1); the duplicates step rejects repeats after the redirect
// URI is known, so the early steps check their own parameters.
func single(p url.Values, name string) (string, bool) {
	v := p[name]
	if len(v) > 1 {
		return "", false
	}
	if len(v) == 0 {
		return "", true
	}
	return v[0], true
}
