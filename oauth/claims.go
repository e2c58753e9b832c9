package oauth

import (
	"encoding/json"
	"fmt"
	"slices"
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
}

// ClaimsRequest is the parsed OpenID "claims" request parameter (OIDC Core
// §5.5). A nil *ClaimRequest value stands for JSON null (a voluntary claim
// with no constraints).
type ClaimsRequest struct {
	UserInfo map[string]*ClaimRequest `json:"userinfo,omitempty"`
	IDToken  map[string]*ClaimRequest `json:"id_token,omitempty"`
}

// ParseClaimsRequest decodes the claims parameter. Unknown top-level members
// are ignored as OIDC Core §5.5 requires; malformed members are an
// invalid_request.
func ParseClaimsRequest(s string) (*ClaimsRequest, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, InvalidRequest("the claims parameter is not a JSON object")
	}
	var cr ClaimsRequest
	for _, member := range []struct {
		name string
		dst  *map[string]*ClaimRequest
	}{{"userinfo", &cr.UserInfo}, {"id_token", &cr.IDToken}} {
		v, ok := raw[member.name]
		if !ok || string(v) == "null" {
			continue
		}
		m, err := parseClaimMembers(v)
		if err != nil {
			return nil, InvalidRequest(fmt.Sprintf("the claims parameter member %q is malformed", member.name))
		}
		*member.dst = m
	}
	return &cr, nil
}

func parseClaimMembers(v json.RawMessage) (map[string]*ClaimRequest, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(v, &members); err != nil {
		return nil, err
	}
	out := make(map[string]*ClaimRequest, len(members))
	for name, body := range members {
		if name == "" {
			return nil, fmt.Errorf("empty claim name")
		}
		if string(body) == "null" {
			out[name] = nil
			continue
		}
		var cr ClaimRequest
		if err := json.Unmarshal(body, &cr); err != nil {
			return nil, err
		}
		out[name] = &cr
	}
	return out, nil
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
