package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/claims"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// maxSubmissionBytes bounds a PUT body.
const maxSubmissionBytes = 1 << 20

// SubjectAuth is the subject authentication submission (docs/api.md §3,
// step 2). Lifetimes are in minutes; negative is unlimited.
type SubjectAuth struct {
	Sub      string         `json:"sub"`
	ACR      string         `json:"acr,omitempty"`
	AMR      []string       `json:"amr,omitempty"`
	AuthTime *int64         `json:"auth_time,omitempty"`
	Claims   map[string]any `json:"claims,omitempty"`
	Data     map[string]any `json:"data,omitempty"`
	MaxLife  *int64         `json:"max_life,omitempty"`
	AuthLife *int64         `json:"auth_life,omitempty"`
	MaxIdle  *int64         `json:"max_idle,omitempty"`
}

// Consent is the consent submission (docs/api.md §3, step 3). Lifetimes are
// in seconds.
type Consent struct {
	Scope  []string `json:"scope"`
	Claims []string `json:"claims,omitempty"`
	// PresetClaims has the members "id_token" and "userinfo".
	PresetClaims map[string]map[string]any `json:"preset_claims,omitempty"`
	// ClaimsLocales replaces the request's claims_locales for the claims
	// sources.
	ClaimsLocales []string `json:"claims_locales,omitempty"`
	// ClaimsTransport is USERINFO (default) or ID_TOKEN: where the
	// consented claims without a prefix are delivered.
	ClaimsTransport string            `json:"claims_transport,omitempty"`
	ClaimsData      map[string]any    `json:"claims_data,omitempty"`
	Audience        []string          `json:"audience,omitempty"`
	LongLived       bool              `json:"long_lived,omitempty"`
	Data            map[string]any    `json:"data,omitempty"`
	AccessToken     *AccessTokenSpec  `json:"access_token,omitempty"`
	RefreshToken    *RefreshTokenSpec `json:"refresh_token,omitempty"`
	IDToken         *IDTokenSpec      `json:"id_token,omitempty"`
	// AuthorizationDetails grants a subset of the requested
	// authorization_details (RFC 9396); absent grants all of them, as the
	// consent prompt showed them, and [] grants none.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
}

// Values of Consent.ClaimsTransport and AccessTokenSpec.SubType, as
// Connect2id spells them.
const (
	TransportUserInfo = "USERINFO"
	TransportIDToken  = "ID_TOKEN"
	SubTypePublic     = "PUBLIC"
	SubTypePairwise   = "PAIRWISE"
)

// Claim name prefixes of a consent (Connect2id's consent convention): the
// claim is fed into the access token, as a top-level claim, into "uip" or
// into "dat".
const (
	prefixAccessToken    = "access_token:"
	prefixAccessTokenUIP = "uip:"
	prefixAccessTokenDat = "dat:"
)

// AccessTokenSpec overrides access token settings; lifetime in seconds.
type AccessTokenSpec struct {
	Lifetime *int64 `json:"lifetime,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	// Encrypt wraps the self-contained token in a JWE (dir, A128GCM).
	Encrypt *bool `json:"encrypt,omitempty"`
	// SubType is PUBLIC (default) or PAIRWISE (per audience).
	SubType string `json:"sub_type,omitempty"`
}

// RefreshTokenSpec overrides refresh token settings; seconds, 0 = none.
type RefreshTokenSpec struct {
	Issue    *bool  `json:"issue,omitempty"`
	Lifetime *int64 `json:"lifetime,omitempty"`
	MaxIdle  *int64 `json:"max_idle,omitempty"`
	Rotate   *bool  `json:"rotate,omitempty"`
}

// IDTokenSpec overrides ID token settings; lifetime in seconds.
type IDTokenSpec struct {
	Lifetime     *int64 `json:"lifetime,omitempty"`
	AllowRefresh *bool  `json:"allow_refresh,omitempty"`
	// ImpersonatedSub is the subject the ID token names instead of the
	// authenticated one, which it records in "act" (RFC 8693 §4.1).
	ImpersonatedSub string `json:"impersonated_sub,omitempty"`
}

// knownNested lists the members of the consent's nested objects. A member
// of these objects that Keyward does not know is refused rather than
// ignored: a misspelt "encrypt" must not silently issue a readable token.
var knownNested = map[string][]string{
	"access_token":  {"lifetime", "encoding", "encrypt", "sub_type"},
	"refresh_token": {"issue", "lifetime", "max_idle", "rotate"},
	"id_token":      {"lifetime", "allow_refresh", "impersonated_sub"},
	"preset_claims": {"id_token", "userinfo"},
}

// checkNested refuses unknown members of the nested objects of a consent.
func checkNested(probe map[string]json.RawMessage) error {
	for name, known := range knownNested {
		raw, ok := probe[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return oauth.InvalidRequest("malformed consent: " + name + " must be a JSON object")
		}
		for m := range members {
			if !slices.Contains(known, m) {
				return oauth.InvalidRequest(fmt.Sprintf("unsupported consent member %s.%s", name, safeName(m)))
			}
		}
	}
	return nil
}

// safeName returns a member name for an error description, or a
// placeholder when it has characters RFC 6749 §4.1.2.1 does not allow.
func safeName(v string) string {
	if len(v) > 64 || !oauth.ValidErrorCode(v) {
		return "(name not shown)"
	}
	return v
}

// DecodeSubmission decodes a PUT body: a JSON object with "sub" is a
// subject authentication, any other object a consent. Malformed bodies and
// invalid members are *oauth.Error invalid_request (HTTP 400). Exactly one
// of the results is non-nil on success; pass it to Service.SubmitAuth or
// Service.SubmitConsent.
func DecodeSubmission(body []byte) (*SubjectAuth, *Consent, error) {
	if len(body) > maxSubmissionBytes {
		return nil, nil, oauth.InvalidRequest("the body is too large")
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || probe == nil {
		return nil, nil, oauth.InvalidRequest("the body must be a JSON object")
	}
	if _, ok := probe["sub"]; ok {
		var sa SubjectAuth
		if err := strictUnmarshal(body, &sa); err != nil {
			return nil, nil, oauth.InvalidRequest("malformed subject authentication: " + err.Error())
		}
		if err := sa.validate(); err != nil {
			return nil, nil, err
		}
		return &sa, nil, nil
	}
	if err := checkNested(probe); err != nil {
		return nil, nil, err
	}
	var c Consent
	if err := strictUnmarshal(body, &c); err != nil {
		return nil, nil, oauth.InvalidRequest("malformed consent: " + err.Error())
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return nil, &c, nil
}

// strictUnmarshal decodes one JSON value, rejecting trailing data; unknown
// members are ignored for forward compatibility with Connect2id UIs.
func strictUnmarshal(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) && ute.Field != "" {
			return errors.New("wrong type for member " + safeName(ute.Field))
		}
		return errors.New("wrong member type")
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func (sa *SubjectAuth) validate() error {
	if sa.Sub == "" {
		return oauth.InvalidRequest("sub must be a non-empty string")
	}
	if sa.AuthTime != nil && *sa.AuthTime < 0 {
		return oauth.InvalidRequest("auth_time must not be negative")
	}
	return nil
}

func (c *Consent) validate() error {
	nonNeg := func(p *int64, name string) error {
		if p != nil && *p < 0 {
			return oauth.InvalidRequest(name + " must not be negative")
		}
		return nil
	}
	if at := c.AccessToken; at != nil {
		switch at.Encoding {
		case "", oauth.TokenEncodingSelfContained, oauth.TokenEncodingIdentifier:
		default:
			return oauth.InvalidRequest("access_token.encoding must be SELF_CONTAINED or IDENTIFIER")
		}
		if err := nonNeg(at.Lifetime, "access_token.lifetime"); err != nil {
			return err
		}
		switch at.SubType {
		case "", SubTypePublic:
		case SubTypePairwise:
			if len(c.Audience) == 0 {
				return oauth.InvalidRequest("access_token.sub_type PAIRWISE requires an audience")
			}
		default:
			return oauth.InvalidRequest("access_token.sub_type must be PUBLIC or PAIRWISE")
		}
		if at.Encrypt != nil && *at.Encrypt && at.Encoding == oauth.TokenEncodingIdentifier {
			return oauth.InvalidRequest("access_token.encrypt applies only to SELF_CONTAINED access tokens")
		}
	}
	switch c.ClaimsTransport {
	case "", TransportUserInfo, TransportIDToken:
	default:
		return oauth.InvalidRequest("claims_transport must be USERINFO or ID_TOKEN")
	}
	for _, l := range c.ClaimsLocales {
		if l == "" || !oauth.ValidScopeToken(l) {
			return oauth.InvalidRequest("claims_locales must hold language tags")
		}
	}
	for _, n := range c.Claims {
		if err := checkConsentedClaim(n); err != nil {
			return err
		}
	}
	for _, a := range c.Audience {
		if a == "" {
			return oauth.InvalidRequest("audience values must not be empty")
		}
	}
	if rt := c.RefreshToken; rt != nil {
		if err := nonNeg(rt.Lifetime, "refresh_token.lifetime"); err != nil {
			return err
		}
		if err := nonNeg(rt.MaxIdle, "refresh_token.max_idle"); err != nil {
			return err
		}
	}
	if it := c.IDToken; it != nil {
		if err := nonNeg(it.Lifetime, "id_token.lifetime"); err != nil {
			return err
		}
	}
	for k := range c.PresetClaims {
		if k != oauth.ClaimsTransportIDToken && k != oauth.ClaimsTransportUserInfo {
			return oauth.InvalidRequest("unsupported consent member preset_claims." + safeName(k))
		}
	}
	for _, sc := range c.Scope {
		if sc != "*" && !oauth.ValidScopeToken(sc) {
			return oauth.InvalidRequest("illegal scope value")
		}
	}
	return nil
}

// checkConsentedClaim refuses claim names Keyward cannot honour:
// verified claims (OpenID Connect for Identity Assurance), whose delivery
// is not implemented, and malformed prefixes.
func checkConsentedClaim(n string) error {
	if n == "" {
		return oauth.InvalidRequest("claims must not hold empty names")
	}
	bare := strings.TrimPrefix(n, claims.IDTokenPrefix)
	if rest, ok := strings.CutPrefix(bare, prefixAccessToken); ok {
		if bare != n {
			return oauth.InvalidRequest("claims: the id_token: and access_token: prefixes cannot be combined")
		}
		rest = strings.TrimPrefix(strings.TrimPrefix(rest, prefixAccessTokenUIP), prefixAccessTokenDat)
		bare = rest
	}
	if strings.HasPrefix(bare, oauth.VerifiedClaimPrefix) {
		return oauth.InvalidRequest("claims: verified claims (" + safeName(bare) + ") are not supported")
	}
	if bare == "" || bare == "*" && bare != n {
		return oauth.InvalidRequest("claims: a prefix must be followed by a claim name")
	}
	return nil
}

// SubmitAuth applies a subject authentication to the authorisation session
// sid, allowed while it is AuthPending (docs/api.md §3, step 2), and returns
// the next message. Errors: an unknown or expired sid wraps
// store.ErrNotFound (HTTP 404); an invalid or out-of-order submission is
// *oauth.Error invalid_request (HTTP 400); a re-submission of the decision
// that completed the session returns the same final message.
func (s *Service) SubmitAuth(ctx context.Context, sid string, sa *SubjectAuth) (*Message, error) {
	if sa == nil {
		return nil, oauth.InvalidRequest("missing subject authentication")
	}
	if err := sa.validate(); err != nil {
		return nil, err
	}
	decision, err := submissionHash("auth", sa)
	if err != nil {
		return nil, err
	}
	a, err := s.load(ctx, sid)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, a, decision, kindAuth, func(a *store.AuthzSession) (*Message, error) {
		return s.authenticate(ctx, a, sa)
	})
}

// SubmitConsent applies a consent to the authorisation session sid, allowed
// while it is ConsentPending (docs/api.md §3, step 3); results and errors
// as for SubmitAuth.
func (s *Service) SubmitConsent(ctx context.Context, sid string, c *Consent) (*Message, error) {
	if c == nil {
		return nil, oauth.InvalidRequest("missing consent")
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	decision, err := submissionHash("consent", c)
	if err != nil {
		return nil, err
	}
	a, err := s.load(ctx, sid)
	if err != nil {
		return nil, err
	}
	return s.transition(ctx, a, decision, kindConsent, func(a *store.AuthzSession) (*Message, error) {
		return s.consent(ctx, a, c)
	})
}

func (s *Service) client(ctx context.Context, id string) (*store.Client, error) {
	c, err := s.Clients.Get(ctx, id)
	if err != nil {
		// The client was deleted while the user was logging in.
		return nil, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

// authenticate records a subject authentication: it checks the required
// subject of an id_token_hint (a different subject ends the request with
// login_required — re-prompting would let the UI loop), creates the subject
// session or updates it (a different subject's session is ended first),
// checks an essential acr (OIDC Core §5.5.1.1: not met is a failed
// authentication, access_denied), then decides on consent.
func (s *Service) authenticate(ctx context.Context, a *store.AuthzSession, sa *SubjectAuth) (*Message, error) {
	now := s.now()
	authTime := now
	if sa.AuthTime != nil {
		authTime = time.Unix(*sa.AuthTime, 0).UTC()
		if authTime.After(now) {
			return nil, oauth.InvalidRequest("auth_time is in the future")
		}
	}
	c, err := s.client(ctx, a.Request.ClientID)
	if err != nil {
		return nil, err
	}
	if a.Request.IDTokenHint != "" {
		hintSub, err := s.hintSubject(a.Request.IDTokenHint, a.Request.ClientID)
		if err != nil || hintSub != s.clientSubject(c, sa.Sub) {
			a.State = store.AuthzStateFailed
			return s.finalError(a, oauth.LoginRequired("the authenticated subject is not the one the id_token_hint names")), nil
		}
	}
	login := session.Login{
		Sub: sa.Sub, ACR: sa.ACR, AMR: sa.AMR, AuthTime: authTime, Claims: sa.Claims, Data: sa.Data,
		MaxLife: sa.MaxLife, AuthLife: sa.AuthLife, MaxIdle: sa.MaxIdle, Ctx: session.CtxWeb,
		FPT: a.FPT,
	}
	sess, err := s.upsertSession(ctx, a.SubjectSessionID, login)
	if err != nil {
		return nil, err
	}
	a.SubjectSessionID, a.NewSubjectSession = sess.ID, true
	a.Subject, a.AuthTime, a.ACR, a.AMR = sess.Subject, sess.AuthTime, sess.ACR, sess.AMR
	if ess, _ := requiredACRs(&a.Request, c); !acrSatisfies(sess.ACR, ess) {
		a.State = store.AuthzStateFailed
		return s.finalError(a, oauth.AccessDenied("the required authentication context class was not met")), nil
	}
	return s.decideConsent(ctx, a, c, sess)
}

// upsertSession re-authenticates the existing session when it belongs to
// the same subject, and otherwise ends it and starts a new one
// (docs/api.md §3, step 2).
func (s *Service) upsertSession(ctx context.Context, key string, login session.Login) (*store.SubjectSession, error) {
	if key != "" {
		sess, err := s.SubjectSessions.Reauthenticate(ctx, key, login)
		if err == nil {
			return sess, nil
		}
		switch {
		case errors.Is(err, session.ErrOtherSubject):
			if _, err := s.SubjectSessions.EndKey(ctx, key); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	sess, _, err := s.SubjectSessions.Create(ctx, login)
	return sess, err
}
