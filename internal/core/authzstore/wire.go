package authzstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Authorization is an authorisation in Connect2id's compact JSON form
// (https://connect2id.com/products/server/docs/integration/authz-store).
// Lifetimes are in seconds, times in Unix seconds.
type Authorization struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"cid"`
	Scope    []string `json:"scp"`
	// Claims are consented claim names; "id_token:" forces delivery in the
	// ID token.
	Claims        []string `json:"clm,omitempty"`
	ClaimsLocales []string `json:"cls,omitempty"`
	// PresetUserInfo and PresetIDToken are claims fixed at consent.
	PresetUserInfo map[string]any `json:"uip,omitempty"`
	PresetIDToken  map[string]any `json:"idp,omitempty"`
	Audience       []string       `json:"aud,omitempty"`
	// AccessTokenEncoding is SELF_CONTAINED or IDENTIFIER; empty: the
	// server default.
	AccessTokenEncoding string `json:"ate,omitempty"`
	AccessTokenLifetime int64  `json:"atl,omitempty"`
	// AccessTokenSubjectType is PUBLIC or PAIRWISE (a subject derived per
	// audience); empty is PUBLIC.
	AccessTokenSubjectType string `json:"ats,omitempty"`
	IssueRefreshToken      bool   `json:"irt"`
	// RefreshTokenLifetime is 0 for refresh tokens that do not expire.
	RefreshTokenLifetime int64          `json:"rtl,omitempty"`
	RotateRefreshToken   bool           `json:"rtr,omitempty"`
	RefreshTokenMaxIdle  int64          `json:"rtm,omitempty"`
	AllowIDTokenRefresh  bool           `json:"idr,omitempty"`
	ClaimsData           map[string]any `json:"cld,omitempty"`
	Data                 map[string]any `json:"dat,omitempty"`
	// LongLived is true for what the store keeps; an inspected token may
	// stand for a transient authorisation.
	LongLived bool   `json:"lng"`
	IssuedAt  int64  `json:"iat,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	// Resource lists the granted resource indicators (RFC 8707); a
	// long-lived authorisation covers later requests for them.
	Resource []string `json:"resource,omitempty"`
	// AuthorizationDetails are the granted authorization_details
	// (RFC 9396) of a token's authorisation. Output only: they describe one
	// transaction, so a long-lived authorisation never holds them.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
}

// Limits of decoded values: a subject or client ID, and any lifetime (so
// that seconds never overflow a time.Duration).
const (
	maxIDLen       = 1024
	maxLifetimeSec = int64(math.MaxInt64 / int64(time.Second))
)

// member is how one JSON member of Authorization decodes.
type member struct {
	ptr  func(*Authorization) any
	want string
}

// members lists every member DecodeAuthorization accepts. "rti" (a
// Connect2id refresh token's issue time) is accepted so that a Connect2id
// export loads: no refresh token moves with an export.
var members = map[string]member{
	"sub":      {func(a *Authorization) any { return &a.Subject }, "a string"},
	"cid":      {func(a *Authorization) any { return &a.ClientID }, "a string"},
	"scp":      {func(a *Authorization) any { return &a.Scope }, "an array of strings"},
	"clm":      {func(a *Authorization) any { return &a.Claims }, "an array of strings"},
	"cls":      {func(a *Authorization) any { return &a.ClaimsLocales }, "an array of strings"},
	"uip":      {func(a *Authorization) any { return &a.PresetUserInfo }, "a JSON object"},
	"idp":      {func(a *Authorization) any { return &a.PresetIDToken }, "a JSON object"},
	"aud":      {func(a *Authorization) any { return &a.Audience }, "an array of strings"},
	"ate":      {func(a *Authorization) any { return &a.AccessTokenEncoding }, "a string"},
	"atl":      {func(a *Authorization) any { return &a.AccessTokenLifetime }, "an integer"},
	"irt":      {func(a *Authorization) any { return &a.IssueRefreshToken }, "a boolean"},
	"rtl":      {func(a *Authorization) any { return &a.RefreshTokenLifetime }, "an integer"},
	"rtr":      {func(a *Authorization) any { return &a.RotateRefreshToken }, "a boolean"},
	"rtm":      {func(a *Authorization) any { return &a.RefreshTokenMaxIdle }, "an integer"},
	"idr":      {func(a *Authorization) any { return &a.AllowIDTokenRefresh }, "a boolean"},
	"cld":      {func(a *Authorization) any { return &a.ClaimsData }, "a JSON object"},
	"dat":      {func(a *Authorization) any { return &a.Data }, "a JSON object"},
	"lng":      {func(a *Authorization) any { return &a.LongLived }, "a boolean"},
	"iat":      {func(a *Authorization) any { return &a.IssuedAt }, "an integer"},
	"iss":      {func(a *Authorization) any { return &a.Issuer }, "a string"},
	"rti":      {func(*Authorization) any { return new(int64) }, "an integer"},
	"ats":      {func(a *Authorization) any { return &a.AccessTokenSubjectType }, "a string"},
	"resource": {func(a *Authorization) any { return &a.Resource }, "an array of strings"},
}

func decodeMember(name string, raw json.RawMessage, v any, want string) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return oauth.InvalidRequest(fmt.Sprintf("%s: must be %s", name, want))
	}
	return nil
}

// DecodeAuthorization parses an authorisation, strictly: malformed JSON,
// an unknown member or a member of the wrong type is invalid_request with
// a description naming the problem. Values are checked by validate.
func DecodeAuthorization(body []byte) (*Authorization, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, oauth.InvalidRequest("the body must be a JSON object")
	}
	if dec.More() {
		return nil, oauth.InvalidRequest("the body must be one JSON object")
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // the first problem reported is the same every time
	// Absent "lng" means long-lived: the store keeps nothing else.
	a := &Authorization{LongLived: true}
	for _, name := range names {
		m, ok := members[name]
		if !ok {
			if name == "act" {
				return nil, oauth.InvalidRequest("act: authorisations with an actor (delegation, impersonation) are not supported")
			}
			return nil, oauth.InvalidRequest(fmt.Sprintf("%s: unknown member", name))
		}
		v := m.ptr(a)
		if err := decodeMember(name, raw[name], v, m.want); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// validID checks a subject or client ID: non-empty text without control
// characters, of bounded length.
func validID(v string) bool {
	if v == "" || len(v) > maxIDLen || !utf8.ValidString(v) {
		return false
	}
	return !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// validate checks the values of a decoded authorisation meant for the
// store, against the server's issuer.
func (a *Authorization) validate(issuer string) error {
	switch {
	case a.Subject == "":
		return oauth.InvalidRequest("sub: missing")
	case !validID(a.Subject):
		return oauth.InvalidRequest("sub: must be printable text of at most 1024 bytes")
	case a.ClientID == "":
		return oauth.InvalidRequest("cid: missing")
	case !validID(a.ClientID):
		return oauth.InvalidRequest("cid: must be printable text of at most 1024 bytes")
	case len(a.Scope) == 0:
		return oauth.InvalidRequest("scp: at least one scope value is required")
	}
	for _, s := range a.Scope {
		if !oauth.ValidScopeToken(s) {
			return oauth.InvalidRequest(fmt.Sprintf("scp: %q is not a scope value", s))
		}
	}
	for name, list := range map[string][]string{"clm": a.Claims, "cls": a.ClaimsLocales, "aud": a.Audience} {
		for _, v := range list {
			if v == "" || !utf8.ValidString(v) {
				return oauth.InvalidRequest(name + ": values must be non-empty text")
			}
		}
	}
	for _, r := range a.Resource {
		if !oauth.ValidResource(r) {
			return oauth.InvalidRequest("resource: values must be absolute URIs without a fragment")
		}
	}
	switch a.AccessTokenEncoding {
	case "", oauth.TokenEncodingSelfContained, oauth.TokenEncodingIdentifier:
	default:
		return oauth.InvalidRequest("ate: must be SELF_CONTAINED or IDENTIFIER")
	}
	switch a.AccessTokenSubjectType {
	case "", "PUBLIC":
	case "PAIRWISE":
		if len(a.Audience) == 0 {
			return oauth.InvalidRequest("ats: PAIRWISE needs an audience (aud)")
		}
	default:
		return oauth.InvalidRequest("ats: must be PUBLIC or PAIRWISE")
	}
	for name, v := range map[string]int64{"atl": a.AccessTokenLifetime, "rtl": a.RefreshTokenLifetime, "rtm": a.RefreshTokenMaxIdle} {
		if v < 0 || v > maxLifetimeSec {
			return oauth.InvalidRequest(name + ": must be a non-negative number of seconds")
		}
	}
	if a.IssuedAt < 0 || a.IssuedAt > maxLifetimeSec {
		return oauth.InvalidRequest("iat: must be a Unix time in seconds")
	}
	if a.Issuer != "" && a.Issuer != issuer {
		return oauth.InvalidRequest("iss: the authorisation was issued by another server")
	}
	return nil
}

func seconds(v int64) time.Duration { return time.Duration(v) * time.Second }

// toStore converts a validated authorisation; created is its creation
// time when "iat" is absent.
func (a *Authorization) toStore(created, now time.Time) *store.Authorization {
	if a.IssuedAt > 0 {
		created = time.Unix(a.IssuedAt, 0).UTC()
	}
	return &store.Authorization{
		Subject:  a.Subject,
		ClientID: a.ClientID,
		Consented: store.Consented{
			Scope:                a.Scope,
			Claims:               a.Claims,
			ClaimsLocales:        a.ClaimsLocales,
			PresetIDTokenClaims:  a.PresetIDToken,
			PresetUserInfoClaims: a.PresetUserInfo,
			ClaimsData:           a.ClaimsData,
			Audience:             a.Audience,
			Data:                 a.Data,
			Resources:            a.Resource,
		},
		Tokens: store.TokenSpec{
			AccessTokenLifetime: seconds(a.AccessTokenLifetime),
			AccessTokenEncoding: a.AccessTokenEncoding,
			IssueRefreshToken:   a.IssueRefreshToken,
			// PUBLIC is stored as the empty default.
			AccessTokenSubjectType: strings.TrimPrefix(a.AccessTokenSubjectType, "PUBLIC"),
			RefreshTokenLifetime:   seconds(a.RefreshTokenLifetime),
			RefreshTokenMaxIdle:    seconds(a.RefreshTokenMaxIdle),
			RotateRefreshToken:     a.RotateRefreshToken,
			AllowIDTokenRefresh:    a.AllowIDTokenRefresh,
		},
		CreatedAt: created,
		UpdatedAt: now,
	}
}

// fromConsent builds the wire form of a consent with its token settings.
func fromConsent(sub, cid string, c store.Consented, t store.TokenSpec, longLived bool, issued time.Time, issuer string) *Authorization {
	a := &Authorization{
		Subject:                sub,
		ClientID:               cid,
		Scope:                  c.Scope,
		Claims:                 c.Claims,
		ClaimsLocales:          c.ClaimsLocales,
		PresetUserInfo:         c.PresetUserInfoClaims,
		PresetIDToken:          c.PresetIDTokenClaims,
		Audience:               c.Audience,
		AccessTokenEncoding:    t.AccessTokenEncoding,
		AccessTokenLifetime:    int64(t.AccessTokenLifetime / time.Second),
		AccessTokenSubjectType: t.AccessTokenSubjectType,
		IssueRefreshToken:      t.IssueRefreshToken,
		RefreshTokenLifetime:   int64(t.RefreshTokenLifetime / time.Second),
		RotateRefreshToken:     t.RotateRefreshToken,
		RefreshTokenMaxIdle:    int64(t.RefreshTokenMaxIdle / time.Second),
		AllowIDTokenRefresh:    t.AllowIDTokenRefresh,
		ClaimsData:             c.ClaimsData,
		Data:                   c.Data,
		LongLived:              longLived,
		Issuer:                 issuer,
		Resource:               c.Resources,
		AuthorizationDetails:   c.AuthorizationDetails,
	}
	if a.Scope == nil {
		a.Scope = []string{}
	}
	if !issued.IsZero() {
		a.IssuedAt = issued.Unix()
	}
	return a
}

// FromStore is the wire form of a stored authorisation.
func FromStore(a *store.Authorization, issuer string) *Authorization {
	return fromConsent(a.Subject, a.ClientID, a.Consented, a.Tokens, true, a.CreatedAt, issuer)
}

// FromGrant is the wire form of the authorisation behind a grant.
func FromGrant(g *store.Grant, issuer string) *Authorization {
	return fromConsent(g.Subject, g.ClientID, g.Consented, g.Tokens, g.LongLived, g.CreatedAt, issuer)
}
