package authz

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// consentAll in a consent's scope stands for the whole requested scope.
const consentAll = "*"

// consent applies a consent submission (docs/api.md §3, step 3) through
// grantConsent and issues the code.
func (s *Service) consent(ctx context.Context, a *store.AuthzSession, c *Consent) (*Message, error) {
	client, err := s.client(ctx, a.Request.ClientID)
	if err != nil {
		return nil, err
	}
	consented, spec, err := s.grantConsent(ctx, a.Subject, client, &a.Request, c)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, a, client, consented, spec, c.LongLived)
}

// grantConsent decides what a consent grants, for the consent step and the
// direct authorisation API alike: the granted scope is the submitted one
// cut to the requested scope ("*" = all); claims are expanded ("*" = all
// requested) and folded for delivery; token settings default from
// Config.Tokens. long_lived stores the consent for later requests.
func (s *Service) grantConsent(ctx context.Context, sub string, client *store.Client, req *store.AuthzRequest, c *Consent) (store.Consented, store.TokenSpec, error) {
	requested := oauth.Scope(req.Scope)
	granted := requested.Intersect(c.Scope)
	if slices.Contains(c.Scope, consentAll) {
		granted = requested
	}
	ess, vol := requestedClaims(req)
	names, atNames := splitAccessTokenClaims(claims.ExpandConsented(c.Claims, ess, vol))
	if c.ClaimsTransport == TransportIDToken {
		// Every claim goes in the ID token (Connect2id's claims_transport).
		for i, n := range names {
			if !strings.HasPrefix(n, claims.IDTokenPrefix) {
				names[i] = claims.IDTokenPrefix + n
			}
		}
	}
	consented := store.Consented{
		Scope:                nonNil(granted),
		Claims:               foldClaims(names, req),
		ClaimsLocales:        req.ClaimsLocales,
		PresetIDTokenClaims:  c.PresetClaims[oauth.ClaimsTransportIDToken],
		PresetUserInfoClaims: c.PresetClaims[oauth.ClaimsTransportUserInfo],
		ClaimsData:           c.ClaimsData,
		Audience:             c.Audience,
		Data:                 c.Data,
		AccessTokenClaims:    atNames,
	}
	if len(c.ClaimsLocales) > 0 {
		consented.ClaimsLocales = c.ClaimsLocales
	}
	if err := s.grantDetails(&consented, client, req, c); err != nil {
		return store.Consented{}, store.TokenSpec{}, err
	}
	spec := s.tokenSpec(client, req, granted, c)
	if spec.EncryptAccessToken && spec.AccessTokenEncoding == oauth.TokenEncodingIdentifier {
		return store.Consented{}, store.TokenSpec{}, oauth.InvalidRequest("access_token.encrypt applies only to SELF_CONTAINED access tokens")
	}
	if len(atNames) > 0 && spec.AccessTokenEncoding == oauth.TokenEncodingIdentifier {
		return store.Consented{}, store.TokenSpec{}, oauth.InvalidRequest("access_token: claims need a SELF_CONTAINED access token")
	}
	if spec.AccessTokenSubjectType == SubTypePairwise && len(consented.Audience) == 0 {
		return store.Consented{}, store.TokenSpec{}, oauth.InvalidRequest("access_token.sub_type PAIRWISE requires an audience")
	}
	if c.LongLived {
		if err := s.keepAuthorization(ctx, sub, client.ID, consented, spec); err != nil {
			return store.Consented{}, store.TokenSpec{}, err
		}
	}
	return consented, spec, nil
}

// grantDetails sets what a consent grants of the request's
// authorization_details (RFC 9396 §7: all when the consent does not say,
// else the subset it names) and resources (RFC 8707): the requested
// resources are granted and become the access tokens' audience unless the
// consent set an audience itself.
func (s *Service) grantDetails(consented *store.Consented, client *store.Client, req *store.AuthzRequest, c *Consent) error {
	consented.AuthorizationDetails = req.AuthorizationDetails
	if c.AuthorizationDetails != nil {
		allowed := authzpolicy.AllowedAuthorizationDetailsTypes(s.Config.AuthorizationDetailsTypes, client)
		sub, err := oauth.AuthorizationDetails(req.AuthorizationDetails).Subset(c.AuthorizationDetails, allowed)
		if err != nil {
			if oe := oauth.AsError(err); oe != nil {
				// The UI sent it, not the client: invalid_request to the UI.
				return oauth.InvalidRequest("consent: " + oe.Description)
			}
			return err
		}
		consented.AuthorizationDetails = sub
		if len(sub) == 0 {
			consented.AuthorizationDetails = nil
		}
	}
	consented.Resources = req.Resource
	if len(consented.Audience) == 0 {
		consented.Audience = req.Resource
	}
	return nil
}

// splitAccessTokenClaims takes the "access_token:" names out of a consented
// claims list; they are kept without the prefix ("email", "uip:email",
// "dat:email").
func splitAccessTokenClaims(names []string) (rest, accessToken []string) {
	for _, n := range names {
		if at, ok := strings.CutPrefix(n, prefixAccessToken); ok {
			accessToken = append(accessToken, at)
			continue
		}
		rest = append(rest, n)
	}
	return rest, accessToken
}

// foldClaims marks the consented claims that go into the ID token with the
// "id_token:" prefix (claims.Split decides, from the claims parameter), so
// that the grant alone tells the token endpoint where each claim goes.
func foldClaims(names []string, req *store.AuthzRequest) []string {
	idNames, uiNames := claims.Split(names, req.Claims)
	out := make([]string, 0, len(idNames)+len(uiNames))
	for _, n := range idNames {
		out = append(out, claims.IDTokenPrefix+n)
	}
	return append(out, uiNames...)
}

// tokenSpec starts from Config.Tokens and applies the consent's overrides.
// Without an explicit refresh_token.issue, a refresh token is issued when
// the client is registered for the refresh_token grant and either the
// request is plain OAuth, offline_access was granted (OIDC Core §11), or
// Config.Tokens.IssueRefreshToken is set. Public clients always rotate
// refresh tokens (RFC 9700 §4.14.2).
func (s *Service) tokenSpec(c *store.Client, req *store.AuthzRequest, granted oauth.Scope, cs *Consent) store.TokenSpec {
	d := s.cfg().Tokens
	spec := d
	openID := slices.Contains(req.Scope, oauth.ScopeOpenID)
	spec.IssueRefreshToken = slices.Contains(c.Metadata.GrantTypes, oauth.GrantTypeRefreshToken) &&
		(d.IssueRefreshToken || !openID || granted.Contains(oauth.ScopeOfflineAccess))
	spec.RotateRefreshToken = d.RotateRefreshToken || isPublic(c)
	if authzpolicy.For(s.Config.Profile, c).FAPI2 {
		// FAPI 2.0 §5.3.2.1: no refresh token rotation, except in
		// extraordinary circumstances (which a consent may still declare
		// with refresh_token.rotate).
		spec.RotateRefreshToken = false
	}
	if at := cs.AccessToken; at != nil {
		if at.Lifetime != nil && *at.Lifetime > 0 {
			spec.AccessTokenLifetime = time.Duration(*at.Lifetime) * time.Second
		}
		if at.Encoding != "" {
			spec.AccessTokenEncoding = at.Encoding
		}
		if at.Encrypt != nil {
			spec.EncryptAccessToken = *at.Encrypt
		}
		if at.SubType == SubTypePairwise {
			spec.AccessTokenSubjectType = SubTypePairwise
		}
	}
	if rt := cs.RefreshToken; rt != nil {
		if rt.Issue != nil {
			spec.IssueRefreshToken = *rt.Issue
		}
		if rt.Lifetime != nil {
			spec.RefreshTokenLifetime = time.Duration(*rt.Lifetime) * time.Second
		}
		if rt.MaxIdle != nil {
			spec.RefreshTokenMaxIdle = time.Duration(*rt.MaxIdle) * time.Second
		}
		if rt.Rotate != nil {
			spec.RotateRefreshToken = *rt.Rotate
		}
	}
	// A public client cannot prove who presents its refresh token, so
	// rotation with reuse detection is its only protection: no consent may
	// turn it off.
	spec.RotateRefreshToken = spec.RotateRefreshToken || isPublic(c)
	if it := cs.IDToken; it != nil {
		if it.Lifetime != nil && *it.Lifetime > 0 {
			spec.IDTokenLifetime = time.Duration(*it.Lifetime) * time.Second
		}
		if it.AllowRefresh != nil {
			spec.AllowIDTokenRefresh = *it.AllowRefresh
		}
		spec.ImpersonatedSubject = it.ImpersonatedSub
	}
	return spec
}

// keepAuthorization stores a long-lived consent. Scope and claims are added
// to what the subject had already granted the client, so that consenting to
// a narrower request does not withdraw earlier consent; the other members
// and the token settings are replaced.
func (s *Service) keepAuthorization(ctx context.Context, sub, clientID string, c store.Consented, spec store.TokenSpec) error {
	now := s.now()
	// Impersonation is a decision for this request only: a later request
	// that the remembered consent covers gets the real subject.
	spec.ImpersonatedSubject = ""
	// authorization_details describe this transaction only (RFC 9396 §1).
	c.AuthorizationDetails = nil
	a := &store.Authorization{Subject: sub, ClientID: clientID, Consented: c, Tokens: spec, CreatedAt: now, UpdatedAt: now}
	old, err := s.Authorizations.Get(ctx, sub, clientID)
	switch {
	case err == nil:
		a.CreatedAt = old.CreatedAt
		a.Scope = oauth.Scope(old.Scope).Union(c.Scope)
		a.Claims = oauth.Scope(old.Claims).Union(c.Claims)
		a.Resources = oauth.Scope(old.Resources).Union(c.Resources)
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("get long-lived authorisation: %w", err)
	}
	if err := s.Authorizations.Put(ctx, a); err != nil {
		return fmt.Errorf("store long-lived authorisation: %w", err)
	}
	return nil
}

// issueFromAuthorization completes a request covered by a long-lived
// authorisation: the requested scope and the stored claims that the request
// asks for, with the stored token settings.
func (s *Service) issueFromAuthorization(ctx context.Context, a *store.AuthzSession, c *store.Client, auth *store.Authorization) (*Message, error) {
	ess, vol := requestedClaims(&a.Request)
	want := oauth.Scope(slices.Concat(ess, vol))
	var kept []string
	for _, n := range auth.Claims {
		if want.Contains(bareClaims([]string{n})[0]) {
			kept = append(kept, n)
		}
	}
	consented := auth.Consented
	consented.Scope = nonNil(a.Request.Scope)
	consented.Claims = foldClaims(kept, &a.Request)
	// A long-lived authorisation never covers authorization_details
	// (CheckAuthorizationDetails); the resources are the requested ones,
	// which it covers (CheckMissingResources).
	consented.AuthorizationDetails = nil
	consented.Resources = a.Request.Resource
	if len(auth.Audience) == 0 {
		consented.Audience = a.Request.Resource
	}
	if len(a.Request.ClaimsLocales) > 0 {
		consented.ClaimsLocales = a.Request.ClaimsLocales
	}
	return s.issue(ctx, a, c, consented, auth.Tokens, true)
}

// issue completes the session (Done) with the response the request's
// response_type asks for: an authorisation code (RFC 6749 §4.1.2) — 256
// random bits, kept only as its SHA-256 — carrying the complete grant,
// and/or the tokens of an implicit or hybrid response (frontChannel). It
// records the client in the subject session. Code.RedirectURI is the
// redirect_uri parameter as sent, empty when the request omitted it
// (RFC 6749 §4.1.3).
func (s *Service) issue(ctx context.Context, a *store.AuthzSession, c *store.Client, consented store.Consented, spec store.TokenSpec, longLived bool) (*Message, error) {
	now := s.now()
	if err := s.completePushedRequest(ctx, a, now); err != nil {
		if oe := oauth.AsError(err); oe != nil {
			a.State = store.AuthzStateFailed
			return s.finalError(a, oe), nil
		}
		return nil, err
	}
	var err error
	if consented.SessionClaims, err = s.sessionClaims(ctx, a.SubjectSessionID); err != nil {
		return nil, err
	}
	grant := store.Grant{
		Subject: a.Subject, ClientID: c.ID, Consented: consented, Tokens: spec,
		LongLived: longLived, SubjectSessionID: a.SubjectSessionID,
		AuthTime: a.AuthTime, ACR: a.ACR, AMR: a.AMR, CreatedAt: now,
	}
	resp := url.Values{}
	var code string
	if rt := a.Request.ResponseType; len(rt) == 0 || slices.Contains(rt, oauth.ResponseTypeCode) {
		if code, err = secret.Token(s.Rand, 32); err != nil {
			return nil, fmt.Errorf("issue code: %w", err)
		}
		resp.Set("code", code)
	}
	if frontChannelTokens(a.Request.ResponseType) {
		// Minted before the code is stored: the ID token's c_hash needs
		// only the code's value.
		if err := s.frontChannel(ctx, a, c, grant, code, resp); err != nil {
			// A failure the token core reports as an OAuth error (a claims
			// source under on_error: fail, or a logged internal failure)
			// goes to the client, as the token endpoint would answer it
			// (temporarily_unavailable, server_error; RFC 6749 §4.1.2.1).
			if oe := oauth.AsError(err); oe != nil {
				a.State = store.AuthzStateFailed
				return s.finalError(a, oe), nil
			}
			return nil, err
		}
	}
	if code != "" {
		if err := s.storeCode(ctx, a, c, grant, code, now); err != nil {
			return nil, err
		}
	}
	if a.SubjectSessionID != "" {
		if err := s.SubjectSessions.AddRP(ctx, a.SubjectSessionID, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	a.State = store.AuthzStateDone
	return s.finalSuccess(a, resp), nil
}

// storeCode stores the authorisation code with the grant it will create
// when redeemed.
func (s *Service) storeCode(ctx context.Context, a *store.AuthzSession, c *store.Client, grant store.Grant, code string, now time.Time) error {
	grantID, err := secret.Token(s.Rand, 16)
	if err != nil {
		return fmt.Errorf("issue code: %w", err)
	}
	grant.ID = grantID
	var redirectParam string
	if v := a.Request.Params["redirect_uri"]; len(v) == 1 {
		redirectParam = v[0]
	}
	rec := &store.Code{
		ID:                  secret.Hash(code),
		GrantID:             grantID,
		ClientID:            c.ID,
		RedirectURI:         redirectParam,
		CodeChallenge:       a.Request.CodeChallenge,
		CodeChallengeMethod: a.Request.CodeChallengeMethod,
		Nonce:               a.Request.Nonce,
		DPoPJKT:             a.Request.DPoPJKT,
		Grant:               grant,
		CreatedAt:           now,
		ExpiresAt:           now.Add(authzpolicy.For(s.Config.Profile, c).CodeLifetime(s.cfg().CodeLifetime)),
	}
	if err := s.Codes.Create(ctx, rec); err != nil {
		return fmt.Errorf("store code: %w", err)
	}
	return nil
}

// sessionClaims selects the subject session claims the ID token carries
// (Config.IDTokenSessionClaims; "*" is all).
func (s *Service) sessionClaims(ctx context.Context, key string) (map[string]any, error) {
	names := s.Config.IDTokenSessionClaims
	if len(names) == 0 || key == "" {
		return nil, nil
	}
	sess, err := s.SubjectSessions.GetByKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get subject session: %w", err)
	}
	out := map[string]any{}
	for k, v := range sess.Claims {
		if slices.Contains(names, "*") || slices.Contains(names, k) {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
