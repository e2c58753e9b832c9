package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// TokenIssuer mints the tokens of a new grant (token.Service.Issue), for
// the direct authorisation API and for implicit and hybrid responses.
type TokenIssuer interface {
	Issue(ctx context.Context, client *store.Client, g *store.Grant, withIDToken bool) (*token.Response, error)
	// IssueFrontChannel mints the tokens of an implicit or hybrid
	// authorisation response (token.Service.IssueFrontChannel).
	IssueFrontChannel(ctx context.Context, client *store.Client, g *store.Grant, fc token.FrontChannel) (*token.Response, error)
}

// DirectRequest is a direct authorisation request (docs/api.md §11,
// Connect2id's /direct-authz/rest/v2): tokens for a subject and a client
// without user interaction. The subject is named by exactly one of Sub,
// SubSession (a subject session to create) and SubSID (an existing subject
// session to bind to); Sub may accompany the other two when it names the
// same subject. Consent carries the consent members, with the meaning they
// have in the consent step.
type DirectRequest struct {
	Sub        string
	SubSession *SubjectAuth
	SubSID     string
	ClientID   string
	// ClaimsLocales are passed to the claims sources; ClaimsTransport
	// ID_TOKEN delivers every consented claim in the ID token.
	ClaimsLocales   []string
	ClaimsTransport string
	// IssueIDToken is id_token.issue: nil issues an ID token exactly when
	// the scope has openid.
	IssueIDToken *bool
	Consent      Consent
}

// DirectResponse is the token response of the direct authorisation API:
// the tokens as the token endpoint would answer them, and the subject
// session ID when a session was created or bound.
type DirectResponse struct {
	token.Response
	SubSID string `json:"sub_sid,omitempty"`
}

// maxDirectRequestBytes bounds a direct authorisation request, as every
// other protocol body.
const maxDirectRequestBytes = 50_000

// directMembers are the members a direct authorisation request may carry,
// per object; anything else is refused by name, so that a member
// Connect2id knows but Keyward does not implement never passes silently.
var directMembers = map[string][]string{
	"": {"sub", "sub_session", "sub_sid", "client_id", "scope", "claims", "claims_locales", "claims_transport",
		"preset_claims", "claims_data", "audience", "long_lived", "data", "access_token", "refresh_token", "id_token"},
	"sub_session":   {"sub", "acr", "amr", "auth_time", "claims", "data", "max_life", "auth_life", "max_idle"},
	"preset_claims": {oauth.ClaimsTransportIDToken, oauth.ClaimsTransportUserInfo},
	"access_token":  {"lifetime", "encoding", "encrypt", "sub_type"},
	"refresh_token": {"issue", "lifetime", "max_idle", "rotate"},
	"id_token":      {"issue", "lifetime", "impersonated_sub", "allow_refresh"},
}

// directWire is the JSON shape; its id_token shadows the consent's, which
// lacks id_token.issue, the member only the direct API has.
type directWire struct {
	Consent
	Sub             string       `json:"sub"`
	SubSession      *SubjectAuth `json:"sub_session"`
	SubSID          string       `json:"sub_sid"`
	ClientID        string       `json:"client_id"`
	ClaimsLocales   []string     `json:"claims_locales"`
	ClaimsTransport string       `json:"claims_transport"`
	IDToken         *struct {
		IDTokenSpec
		Issue *bool `json:"issue"`
	} `json:"id_token"`
}

// DecodeDirect decodes and validates a direct authorisation request body.
// Every problem is *oauth.Error invalid_request (HTTP 400) naming the
// member: malformed JSON, a member of the wrong type, an unknown member, a
// documented Connect2id member Keyward does not implement, a bad value.
func DecodeDirect(body []byte) (*DirectRequest, error) {
	if len(body) > maxDirectRequestBytes {
		return nil, oauth.InvalidRequest("the body is too large")
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, oauth.InvalidRequest("the body must be a JSON object")
	}
	if dec.More() {
		return nil, oauth.InvalidRequest("trailing data after the JSON object")
	}
	if err := checkMembers(obj, ""); err != nil {
		return nil, err
	}
	var w directWire
	if err := json.Unmarshal(body, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, oauth.InvalidRequest("wrong type for member " + memberPath(te.Field))
		}
		return nil, oauth.InvalidRequest("the body must be a JSON object")
	}
	r := &DirectRequest{
		Sub: w.Sub, SubSession: w.SubSession, SubSID: w.SubSID, ClientID: w.ClientID,
		ClaimsLocales: w.ClaimsLocales, ClaimsTransport: w.ClaimsTransport, Consent: w.Consent,
	}
	r.Consent.IDToken = nil
	if it := w.IDToken; it != nil {
		spec := it.IDTokenSpec
		r.Consent.IDToken = &spec
		r.IssueIDToken = it.Issue
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkMembers refuses members not in directMembers[path], recursing into
// the nested objects it lists. Values of the wrong type are left to the
// typed decoding, which names them.
func checkMembers(obj map[string]json.RawMessage, path string) error {
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		full := k
		if path != "" {
			full = path + "." + k
		}
		if !slices.Contains(directMembers[path], k) {
			// The name is the caller's: echo it only when it is short and
			// made of the characters an error description may carry.
			if len(full) > 100 || !oauth.ValidErrorCode(full) {
				return oauth.InvalidRequest("unknown member with a long or unprintable name")
			}
			return oauth.InvalidRequest("unknown member " + full)
		}
		var inner map[string]json.RawMessage
		if _, nested := directMembers[full]; nested && path == "" && json.Unmarshal(obj[k], &inner) == nil {
			if err := checkMembers(inner, full); err != nil {
				return err
			}
		}
	}
	return nil
}

// memberPath turns the field path of a JSON type error into the member
// name, dropping the Go names of embedded structs
// ("access_token.AccessTokenSpec.lifetime" is access_token.lifetime).
func memberPath(field string) string {
	parts := strings.Split(field, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && !unicode.IsUpper(rune(p[0])) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

func (r *DirectRequest) validate() error {
	if r.ClientID == "" {
		return oauth.InvalidRequest("missing client_id")
	}
	n := 0
	for _, set := range []bool{r.SubSession != nil, r.SubSID != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return oauth.InvalidRequest("sub_session and sub_sid are mutually exclusive")
	case n == 0 && r.Sub == "":
		return oauth.InvalidRequest("missing sub, sub_session or sub_sid")
	}
	if sa := r.SubSession; sa != nil {
		if err := sa.validate(); err != nil {
			return oauth.InvalidRequest("sub_session: " + oauth.AsError(err).Description)
		}
		if r.Sub != "" && r.Sub != sa.Sub {
			return oauth.InvalidRequest("sub and sub_session.sub name different subjects")
		}
	}
	if slices.Contains(r.Consent.Scope, consentAll) {
		return oauth.InvalidRequest("the scope value * stands for the requested scope, and a direct authorisation has no request: list the scope values")
	}
	switch r.ClaimsTransport {
	case "", "USERINFO", "ID_TOKEN":
	default:
		return oauth.InvalidRequest("claims_transport must be USERINFO or ID_TOKEN")
	}
	for _, a := range r.Consent.Audience {
		if a == "" {
			return oauth.InvalidRequest("audience values must not be empty")
		}
	}
	if r.IssueIDToken != nil && *r.IssueIDToken && !slices.Contains(r.Consent.Scope, oauth.ScopeOpenID) {
		return oauth.InvalidRequest("id_token.issue needs the openid scope")
	}
	return r.Consent.validate()
}

// Direct serves a direct authorisation (docs/api.md §11): it resolves the
// subject — creating the subject session of sub_session, or binding to the
// live session sub_sid names — grants the consent exactly as the consent
// step does (grantConsent, long_lived included), and mints the tokens as
// redeeming a code for that grant would (TokenIssuer). An unknown client is
// invalid_client with HTTP 400; a sub_sid that names no live session, or
// another subject than sub, is invalid_request. Nothing is created before
// the request has passed every check.
func (s *Service) Direct(ctx context.Context, r *DirectRequest) (*DirectResponse, error) {
	if r == nil {
		return nil, oauth.InvalidRequest("missing direct authorisation request")
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	if s.Tokens == nil {
		return nil, errors.New("direct authorisation: no token issuer")
	}
	client, err := s.Clients.Get(ctx, r.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidClient("client_id names no registered client").WithStatus(400)
	}
	if err != nil {
		return nil, fmt.Errorf("direct authorisation: get client: %w", err)
	}

	var sess *store.SubjectSession
	var sid string
	sub := r.Sub
	switch {
	case r.SubSID != "":
		sess, err = s.SubjectSessions.Get(ctx, r.SubSID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, oauth.InvalidRequest("sub_sid names no live subject session")
		}
		if err != nil {
			return nil, fmt.Errorf("direct authorisation: %w", err)
		}
		if sub != "" && sub != sess.Subject {
			return nil, oauth.InvalidRequest("the subject session sub_sid names belongs to another subject than sub")
		}
		sub, sid = sess.Subject, r.SubSID
	case r.SubSession != nil:
		sa := r.SubSession
		now := s.now()
		var authTime time.Time
		if sa.AuthTime != nil {
			authTime = time.Unix(*sa.AuthTime, 0).UTC()
			if authTime.After(now) {
				return nil, oauth.InvalidRequest("sub_session.auth_time is in the future")
			}
		}
		sess, sid, err = s.SubjectSessions.Create(ctx, session.Login{
			Sub: sa.Sub, ACR: sa.ACR, AMR: sa.AMR, AuthTime: authTime, Claims: sa.Claims, Data: sa.Data,
			MaxLife: sa.MaxLife, AuthLife: sa.AuthLife, MaxIdle: sa.MaxIdle, Ctx: session.CtxWeb,
		})
		if err != nil {
			return nil, fmt.Errorf("direct authorisation: %w", err)
		}
		sub = sess.Subject
	}

	c := r.Consent
	req := &store.AuthzRequest{ClientID: client.ID, Scope: nonNil(oauth.Scope(c.Scope)), ClaimsLocales: r.ClaimsLocales}
	if r.ClaimsTransport == "ID_TOKEN" {
		ess, vol := requestedClaims(req)
		c.Claims = nil
		for _, n := range claims.ExpandConsented(r.Consent.Claims, ess, vol) {
			c.Claims = append(c.Claims, claims.IDTokenPrefix+strings.TrimPrefix(n, claims.IDTokenPrefix))
		}
	}
	consented, spec, err := s.grantConsent(ctx, sub, client, req, &c)
	if err != nil {
		return nil, err
	}
	grantID, err := secret.Token(s.Rand, 16)
	if err != nil {
		return nil, fmt.Errorf("direct authorisation: %w", err)
	}
	g := &store.Grant{ID: grantID, Subject: sub, ClientID: client.ID, Consented: consented, Tokens: spec, LongLived: c.LongLived}
	if sess != nil {
		g.SubjectSessionID, g.AuthTime, g.ACR, g.AMR = sess.ID, sess.AuthTime, sess.ACR, sess.AMR
		if err := s.SubjectSessions.AddRP(ctx, sess.ID, client.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("direct authorisation: %w", err)
		}
	}
	withIDToken := r.IssueIDToken == nil || *r.IssueIDToken
	resp, err := s.Tokens.Issue(ctx, client, g, withIDToken)
	if err != nil {
		return nil, err
	}
	return &DirectResponse{Response: *resp, SubSID: sid}, nil
}
