package oauth

import (
	"encoding/json"
	"fmt"
	"slices"
	"unicode/utf8"
)

// scopeClaims maps the OpenID scope values to the standard claims they
// request (OIDC Core §5.4).
var scopeClaims = map[string][]string{
	ScopeProfile: {"name", "family_name", "given_name", "middle_name", "nickname",
		"preferred_username", "profile", "picture", "website", "gender",
		"birthdate", "zoneinfo", "locale", "updated_at"},
	ScopeEmail:   {"email", "email_verified"},
	ScopeAddress: {"address"},
	ScopePhone:   {"phone_number", "phone_number_verified"},
}

// ClaimsForScope returns the standard claim names the scope values request
// (OIDC Core §5.4), without duplicates, in a stable order.
func ClaimsForScope(scope Scope) []string {
	var out []string
	for _, tok := range scope {
		for _, c := range scopeClaims[tok] {
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// ClaimRequest is one member of an OpenID claims request (OIDC Core §5.5.1):
// null, or an object with essential, value or values.
type ClaimRequest struct {
	Essential bool  `json:"essential,omitempty"`
	Value     any   `json:"value,omitempty"`
	Values    []any `json:"values,omitempty"`
	// Purpose says why the client wants the claim (OpenID Connect for
	// Identity Assurance 1.0 §6.1): 3 to 300 characters, shown to the user
	// on the consent screen, so the UI must escape it.
	Purpose string `json:"purpose,omitempty"`
}

// Bounds of a purpose string (OpenID Connect for Identity Assurance 1.0
// §6.1 and §8: a transaction-level or per-claim purpose).
const (
	MinPurposeLen = 3
	MaxPurposeLen = 300
)

// VerifiedClaimsRequest is the first "verified_claims" element of a claims
// request member (OpenID Connect for Identity Assurance 1.0 §6): the
// requested verification and the verified claims.
type VerifiedClaimsRequest struct {
	Verification json.RawMessage          `json:"verification,omitempty"`
	Claims       map[string]*ClaimRequest `json:"claims,omitempty"`
}

// VerifiedClaimPrefix marks a verified claim name (Connect2id's consent
// convention, e.g. "verified:given_name").
const VerifiedClaimPrefix = "verified:"

// ClaimsRequest is the parsed OpenID "claims" request parameter (OIDC Core
// §5.5). A nil *ClaimRequest value stands for JSON null (a voluntary claim
// with no constraints).
type ClaimsRequest struct {
	UserInfo map[string]*ClaimRequest `json:"userinfo,omitempty"`
	IDToken  map[string]*ClaimRequest `json:"id_token,omitempty"`
	// VerifiedUserInfo and VerifiedIDToken are the "verified_claims"
	// elements of the two members (the first one when several are given).
	VerifiedUserInfo *VerifiedClaimsRequest `json:"verified_userinfo,omitempty"`
	VerifiedIDToken  *VerifiedClaimsRequest `json:"verified_id_token,omitempty"`
	// Raw is the claims parameter as received, for the consent prompt's
	// claims.raw_request.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// ParseClaimsRequest decodes the claims parameter. Unknown top-level members
// are ignored as OIDC Core §5.5 requires; malformed members are an
// invalid_request.
func ParseClaimsRequest(s string) (*ClaimsRequest, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, InvalidRequest("the claims parameter is not a JSON object")
	}
	cr := ClaimsRequest{Raw: json.RawMessage(s)}
	for _, member := range []struct {
		name     string
		dst      *map[string]*ClaimRequest
		verified **VerifiedClaimsRequest
	}{{"userinfo", &cr.UserInfo, &cr.VerifiedUserInfo}, {"id_token", &cr.IDToken, &cr.VerifiedIDToken}} {
		v, ok := raw[member.name]
		if !ok || string(v) == "null" {
			continue
		}
		m, vc, err := parseClaimMembers(v)
		if err != nil {
			return nil, InvalidRequest(fmt.Sprintf("the claims parameter member %q is malformed", member.name))
		}
		*member.dst, *member.verified = m, vc
	}
	return &cr, nil
}

func parseClaimMembers(v json.RawMessage) (map[string]*ClaimRequest, *VerifiedClaimsRequest, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(v, &members); err != nil {
		return nil, nil, err
	}
	out := make(map[string]*ClaimRequest, len(members))
	var verified *VerifiedClaimsRequest
	for name, body := range members {
		if name == "" {
			return nil, nil, fmt.Errorf("empty claim name")
		}
		if name == "verified_claims" {
			vc, err := parseVerifiedClaims(body)
			if err != nil {
				return nil, nil, err
			}
			verified = vc
			continue
		}
		if string(body) == "null" {
			out[name] = nil
			continue
		}
		cr, err := parseClaimRequest(body)
		if err != nil {
			return nil, nil, err
		}
		out[name] = cr
	}
	return out, verified, nil
}

func parseClaimRequest(body json.RawMessage) (*ClaimRequest, error) {
	var cr ClaimRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		return nil, err
	}
	if cr.Purpose != "" && !ValidPurpose(cr.Purpose) {
		return nil, fmt.Errorf("purpose must be %d to %d characters", MinPurposeLen, MaxPurposeLen)
	}
	return &cr, nil
}

// parseVerifiedClaims reads a verified_claims element: one object or an
// array of them, of which the first is kept (Connect2id shows the first
// verification in the consent prompt).
func parseVerifiedClaims(body json.RawMessage) (*VerifiedClaimsRequest, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(body, &list); err != nil {
		list = []json.RawMessage{body}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("empty verified_claims")
	}
	var raw struct {
		Verification json.RawMessage            `json:"verification"`
		Claims       map[string]json.RawMessage `json:"claims"`
	}
	if err := json.Unmarshal(list[0], &raw); err != nil {
		return nil, err
	}
	vc := &VerifiedClaimsRequest{Verification: raw.Verification, Claims: map[string]*ClaimRequest{}}
	for name, b := range raw.Claims {
		if name == "" {
			return nil, fmt.Errorf("empty verified claim name")
		}
		if string(b) == "null" {
			vc.Claims[name] = nil
			continue
		}
		cr, err := parseClaimRequest(b)
		if err != nil {
			return nil, err
		}
		vc.Claims[name] = cr
	}
	return vc, nil
}

// ValidPurpose reports whether s is an acceptable purpose: 3 to 300
// characters (OpenID Connect for Identity Assurance 1.0 §6.1, §8).
func ValidPurpose(s string) bool {
	n := utf8.RuneCountInString(s)
	return n >= MinPurposeLen && n <= MaxPurposeLen
}

// Purposes returns the purpose of every requested claim that has one,
// verified claims under their "verified:" name.
func (c *ClaimsRequest) Purposes() map[string]string {
	if c == nil {
		return nil
	}
	out := map[string]string{}
	add := func(prefix string, m map[string]*ClaimRequest) {
		for name, r := range m {
			if r != nil && r.Purpose != "" {
				out[prefix+name] = r.Purpose
			}
		}
	}
	add("", c.UserInfo)
	add("", c.IDToken)
	for _, vc := range []*VerifiedClaimsRequest{c.VerifiedUserInfo, c.VerifiedIDToken} {
		if vc != nil {
			add(VerifiedClaimPrefix, vc.Claims)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// VerifiedNames returns the requested verified claims as "verified:" names,
// sorted, split into essential and voluntary.
func (c *ClaimsRequest) VerifiedNames() (essential, voluntary []string) {
	if c == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, vc := range []*VerifiedClaimsRequest{c.VerifiedUserInfo, c.VerifiedIDToken} {
		if vc == nil {
			continue
		}
		for name, r := range vc.Claims {
			seen[name] = seen[name] || (r != nil && r.Essential)
		}
	}
	for name, ess := range seen {
		if ess {
			essential = append(essential, VerifiedClaimPrefix+name)
		} else {
			voluntary = append(voluntary, VerifiedClaimPrefix+name)
		}
	}
	slices.Sort(essential)
	slices.Sort(voluntary)
	return essential, voluntary
}

// Names returns the claim names requested for both transports, split into
// essential and voluntary, each sorted. A claim essential in either place is
// essential.
func (c *ClaimsRequest) Names() (essential, voluntary []string) {
	if c == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	for _, m := range []map[string]*ClaimRequest{c.UserInfo, c.IDToken} {
		for name, req := range m {
			ess := req != nil && req.Essential
			seen[name] = seen[name] || ess
		}
	}
	for name, ess := range seen {
		if ess {
			essential = append(essential, name)
		} else {
			voluntary = append(voluntary, name)
		}
	}
	slices.Sort(essential)
	slices.Sort(voluntary)
	return essential, voluntary
}
