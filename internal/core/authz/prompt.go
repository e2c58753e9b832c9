package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Names of the prompt checks; a failing check's name is reported in
// Message.Reasons.
const (
	CheckNoSession   = "login/no_session"
	CheckSessionCtx  = "login/ctx"
	CheckPromptLogin = "login/prompt"
	CheckAuthLife    = "login/auth_life"
	CheckMaxAge      = "login/max_age"
	CheckACR         = "login/acr"
	CheckIDTokenHint = "login/id_token_hint"
	// CheckFingerprint: the UI's subject session was created on a user
	// agent with another fingerprint (fpt); it was ended.
	CheckFingerprint   = "login/fpt"
	CheckPromptConsent = "consent/prompt"
	CheckAlwaysConsent = "consent/always"
	CheckNoAuthz       = "consent/no_authorization"
	CheckMissingScope  = "consent/missing_scope"
	CheckMissingClaims = "consent/missing_claims"
	// CheckAuthorizationDetails: authorization_details (RFC 9396) describe
	// one transaction, so no long-lived authorisation covers them.
	CheckAuthorizationDetails = "consent/authorization_details"
	// CheckMissingResources: a requested resource (RFC 8707) is not in the
	// long-lived authorisation.
	CheckMissingResources = "consent/missing_resources"
)

// policyInput is what the prompt checks look at.
type policyInput struct {
	cfg    Config
	now    time.Time
	req    *store.AuthzRequest
	client *store.Client
	sess   *store.SubjectSession // nil: none
	// hintSub is the id_token_hint's subject and sessSub the session's
	// subject as the client knows it (clientSubject): pairwise clients'
	// hints name a pairwise sub.
	hintSub string
	sessSub string
	authz   *store.Authorization // nil: none
}

type check struct {
	name  string
	fails func(in *policyInput) bool
}

// loginChecks decide single sign-on eligibility (docs/api.md §4, login/*):
// any failing check means the subject must authenticate.
func loginChecks() []check {
	return []check{
		{CheckNoSession, func(in *policyInput) bool { return in.sess == nil }},
		{CheckSessionCtx, func(in *policyInput) bool { return in.sess != nil && in.sess.Ctx != session.CtxWeb }},
		{CheckPromptLogin, func(in *policyInput) bool {
			p := promptSet(in.req.Prompt)
			return p.has(oauth.PromptLogin) || p.has(oauth.PromptSelectAccount) || p.has(oauth.PromptCreate)
		}},
		{CheckAuthLife, func(in *policyInput) bool { return in.sess != nil && session.AuthExpired(in.sess, in.now) }},
		{CheckMaxAge, func(in *policyInput) bool {
			return in.sess != nil && maxAgeExceeded(effectiveMaxAge(in.req, in.client), in.sess.AuthTime, in.now)
		}},
		{CheckACR, func(in *policyInput) bool {
			if in.sess == nil {
				return false
			}
			ess, vol := requiredACRs(in.req, in.client)
			return !acrSatisfies(in.sess.ACR, ess) || !acrSatisfies(in.sess.ACR, vol)
		}},
		{CheckIDTokenHint, func(in *policyInput) bool {
			return in.sess != nil && in.hintSub != "" && in.hintSub != in.sessSub
		}},
	}
}

// consentChecks decide whether the consent prompt is needed: any failing
// check means it is.
func consentChecks() []check {
	return []check{
		{CheckPromptConsent, func(in *policyInput) bool { return promptSet(in.req.Prompt).has(oauth.PromptConsent) }},
		{CheckAlwaysConsent, func(in *policyInput) bool { return in.cfg.AlwaysPromptForConsent }},
		{CheckNoAuthz, func(in *policyInput) bool { return in.authz == nil }},
		{CheckMissingScope, func(in *policyInput) bool {
			return in.authz != nil && !oauth.Scope(in.req.Scope).SubsetOf(in.authz.Scope)
		}},
		{CheckMissingClaims, func(in *policyInput) bool {
			if in.authz == nil {
				return false
			}
			ess, vol := requestedClaims(in.req)
			held := bareClaims(in.authz.Claims)
			return !oauth.Scope(ess).SubsetOf(held) || !oauth.Scope(vol).SubsetOf(held)
		}},
		{CheckAuthorizationDetails, func(in *policyInput) bool { return len(in.req.AuthorizationDetails) > 0 }},
		{CheckMissingResources, func(in *policyInput) bool {
			return in.authz != nil && !oauth.Scope(in.req.Resource).SubsetOf(in.authz.Resources)
		}},
	}
}

func failing(checks []check, in *policyInput) []string {
	var out []string
	for _, c := range checks {
		if c.fails(in) {
			out = append(out, c.name)
		}
	}
	return out
}

// effectiveMaxAge is max_age, else the client's default_max_age (OIDC
// Dynamic Registration §2); nil when neither is set.
func effectiveMaxAge(req *store.AuthzRequest, c *store.Client) *int64 {
	if req.MaxAge != nil {
		return req.MaxAge
	}
	return c.Metadata.DefaultMaxAge
}

// maxAgeExceeded: max_age=0 always requires a fresh authentication (OIDC
// Core §3.1.2.1 treats it like prompt=login).
func maxAgeExceeded(maxAge *int64, authTime, now time.Time) bool {
	if maxAge == nil {
		return false
	}
	if *maxAge == 0 {
		return true
	}
	return now.After(authTime.Add(time.Duration(*maxAge) * time.Second))
}

// requiredACRs returns the ACR values an essential acr claim demands (OIDC
// Core §5.5.1.1) and the voluntary ones from acr_values or the client's
// default_acr_values.
func requiredACRs(req *store.AuthzRequest, c *store.Client) (essential, voluntary []string) {
	voluntary = req.ACRValues
	if len(voluntary) == 0 {
		voluntary = c.Metadata.DefaultACRValues
	}
	if req.Claims != nil {
		for _, m := range []map[string]*oauth.ClaimRequest{req.Claims.IDToken, req.Claims.UserInfo} {
			cr := m["acr"]
			if cr == nil || !cr.Essential {
				continue
			}
			if s, ok := cr.Value.(string); ok {
				essential = append(essential, s)
			}
			for _, v := range cr.Values {
				if s, ok := v.(string); ok {
					essential = append(essential, s)
				}
			}
		}
	}
	return essential, voluntary
}

func acrSatisfies(acr string, wanted []string) bool {
	return len(wanted) == 0 || slices.Contains(wanted, acr)
}

// requestedClaims are the claim names of an OpenID request; a plain OAuth
// request asks for none.
func requestedClaims(req *store.AuthzRequest) (essential, voluntary []string) {
	if !slices.Contains(req.Scope, oauth.ScopeOpenID) {
		return nil, nil
	}
	return claims.Requested(req.Scope, req.Claims)
}

func bareClaims(names []string) oauth.Scope {
	out := make(oauth.Scope, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimPrefix(n, claims.IDTokenPrefix))
	}
	return out
}

// decideLogin runs the login checks for a new request. With a session
// eligible for SSO it moves on to consent; otherwise it asks for
// authentication, or with prompt=none fails with login_required (OIDC Core
// §3.1.2.6). It sets a.State.
func (s *Service) decideLogin(ctx context.Context, a *store.AuthzSession, c *store.Client,
	sess *store.SubjectSession, hintSub string, extraReasons ...string) (*Message, error) {
	if sess != nil {
		// Remembered even when the subject must authenticate again, so that
		// the authentication updates or replaces this session.
		a.SubjectSessionID = sess.ID
	}
	in := &policyInput{cfg: s.cfg(), now: s.now(), req: &a.Request, client: c, sess: sess, hintSub: hintSub}
	if sess != nil {
		in.sessSub = s.clientSubject(c, sess.Subject)
	}
	reasons := append(extraReasons, failing(loginChecks(), in)...)
	if len(reasons) > 0 {
		if promptSet(a.Request.Prompt).has(oauth.PromptNone) {
			a.State = store.AuthzStateFailed
			return s.finalError(a, oauth.LoginRequired("the subject must authenticate")), nil
		}
		a.State = store.AuthzStateAuthPending
		return s.authPrompt(a, c, sess, hintSub, reasons), nil
	}
	a.Subject, a.AuthTime, a.ACR, a.AMR = sess.Subject, sess.AuthTime, sess.ACR, sess.AMR
	return s.decideConsent(ctx, a, c, sess)
}

// decideConsent runs the consent checks once the subject is known: a
// covering long-lived authorisation completes the request at once; else a
// consent prompt, or consent_required for prompt=none (OIDC Core §3.1.2.6;
// as in Connect2id, with AlwaysPromptForConsent alone failing, prompt=none
// still gets the prompt so the UI can add preset claims). It sets a.State.
// sess is the subject session as this request already loaded (and so
// touched) it, or nil.
func (s *Service) decideConsent(ctx context.Context, a *store.AuthzSession, c *store.Client, sess *store.SubjectSession) (*Message, error) {
	auth, err := s.Authorizations.Get(ctx, a.Subject, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		auth = nil
	} else if err != nil {
		return nil, fmt.Errorf("get long-lived authorisation: %w", err)
	}
	in := &policyInput{cfg: s.cfg(), now: s.now(), req: &a.Request, client: c, authz: auth}
	reasons := failing(consentChecks(), in)
	if len(reasons) == 0 {
		return s.issueFromAuthorization(ctx, a, c, auth)
	}
	if promptSet(a.Request.Prompt).has(oauth.PromptNone) && slices.ContainsFunc(reasons, func(r string) bool { return r != CheckAlwaysConsent }) {
		a.State = store.AuthzStateFailed
		return s.finalError(a, oauth.ConsentRequired("the subject must consent")), nil
	}
	a.State = store.AuthzStateConsentPending
	return s.consentPrompt(ctx, a, c, auth, reasons, sess)
}

func display(req *store.AuthzRequest) string {
	if req.Display == "" {
		return oauth.DisplayPage
	}
	return req.Display
}

func (s *Service) sessionView(sess *store.SubjectSession) *session.SessionView {
	v := s.SubjectSessions.View(sess, session.SIDForKey(s.SubjectSessions.MACKey, sess.ID))
	return &v
}

// authPrompt is the type "auth" message (docs/api.md §4).
// requiredSub is the subject the login UI must authenticate, from the
// id_token_hint. A pairwise client's hint names a pairwise sub, which the
// UI cannot know and which cannot be mapped back: it is left out, and the
// subject is checked when the UI submits it.
func requiredSub(c *store.Client, hintSub string) string {
	if c != nil && c.Metadata.SubjectType == clientreg.SubjectTypePairwise {
		return ""
	}
	return hintSub
}

func (s *Service) authPrompt(a *store.AuthzSession, c *store.Client, sess *store.SubjectSession, hintSub string, reasons []string) *Message {
	p := promptSet(a.Request.Prompt)
	sel, create := p.has(oauth.PromptSelectAccount), p.has(oauth.PromptCreate)
	msg := &Message{
		Type: TypeAuth, SID: a.ID, Display: display(&a.Request),
		SelectAccount: &sel, CreateAccount: &create,
		LoginHint: a.Request.LoginHint, RequiredSub: requiredSub(c, hintSub),
		ACRValues: a.Request.ACRValues, MaxAge: a.Request.MaxAge, UILocales: a.Request.UILocales,
		Client: clientInfo(c), Reasons: reasons, Data: a.Data,
		Request: selectParams(a.Request.Params, s.Config.RequestParamsInAuthPrompt),
	}
	if sess != nil {
		msg.SubSession = s.sessionView(sess)
	}
	return msg
}

// selectParams copies the named request parameters for a prompt's
// "request" member: a single value as a string, repeated ones as a list.
func selectParams(params map[string][]string, names []string) map[string]any {
	var out map[string]any
	for _, n := range names {
		v := params[n]
		if len(v) == 0 {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		if len(v) == 1 {
			out[n] = v[0]
		} else {
			out[n] = slices.Clone(v)
		}
	}
	return out
}

// consentPrompt is the type "consent" message (docs/api.md §3, step 3).
// loaded is the subject session this request already read, or nil.
func (s *Service) consentPrompt(ctx context.Context, a *store.AuthzSession, c *store.Client, auth *store.Authorization, reasons []string, loaded *store.SubjectSession) (*Message, error) {
	scope := oauth.Scope(a.Request.Scope)
	var heldScope, heldClaims oauth.Scope
	if auth != nil {
		heldScope, heldClaims = auth.Scope, bareClaims(auth.Claims)
	}
	ess, vol := requestedClaims(&a.Request)
	if slices.Contains(a.Request.Scope, oauth.ScopeOpenID) {
		// Verified claims (OpenID Connect for Identity Assurance) are shown
		// with their "verified:" prefix, as Connect2id does.
		vEss, vVol := a.Request.Claims.VerifiedNames()
		ess, vol = slices.Concat(ess, vEss), slices.Concat(vol, vVol)
	}
	msg := &Message{
		Type: TypeConsent, SID: a.ID, Display: display(&a.Request),
		Client: clientInfo(c), Reasons: reasons, Data: a.Data,
		Scope: &ScopeSplit{New: nonNil(scope.Minus(heldScope)), Consented: nonNil(scope.Intersect(heldScope))},
		Claims: &ClaimsSplit{
			New:       EssVol{nonNil(oauth.Scope(ess).Minus(heldClaims)), nonNil(oauth.Scope(vol).Minus(heldClaims))},
			Consented: EssVol{nonNil(oauth.Scope(ess).Intersect(heldClaims)), nonNil(oauth.Scope(vol).Intersect(heldClaims))},
			Locales:   a.Request.ClaimsLocales,
			Purposes:  a.Request.Claims.Purposes(),
		},
		Purpose: a.Request.Purpose,
		Request: selectParams(a.Request.Params, s.Config.RequestParamsInConsentPrompt),

		AuthorizationDetails: a.Request.AuthorizationDetails,
		Resource:             a.Request.Resource,
	}
	if cr := a.Request.Claims; cr != nil {
		var v Verification
		if cr.VerifiedUserInfo != nil {
			v.UserInfo = cr.VerifiedUserInfo.Verification
		}
		if cr.VerifiedIDToken != nil {
			v.IDToken = cr.VerifiedIDToken.Verification
		}
		if v.UserInfo != nil || v.IDToken != nil {
			msg.Claims.Verification = &v
		}
		if s.Config.IncludeRawClaimsRequest {
			msg.Claims.RawRequest = cr.Raw
		}
	}
	switch {
	case loaded != nil && loaded.ID == a.SubjectSessionID:
		// The session was created, re-authenticated or read (each a use
		// that restarts its idle timer) earlier in this request: reading
		// it again would be one more store write per flow for nothing.
		msg.SubSession = s.sessionView(loaded)
	case a.SubjectSessionID != "":
		sess, err := s.SubjectSessions.GetByKey(ctx, a.SubjectSessionID)
		switch {
		case err == nil:
			msg.SubSession = s.sessionView(sess)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("get subject session: %w", err)
		}
	}
	return msg, nil
}

// nonNil keeps empty lists as [] on the wire, as Connect2id UIs expect.
func nonNil(s oauth.Scope) []string {
	if s == nil {
		return []string{}
	}
	return s
}
