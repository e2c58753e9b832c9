package token

import (
	"encoding/json"
	"slices"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// narrow applies the resource (RFC 8707 §2.2) and authorization_details
// (RFC 9396 §6.2) parameters of a code or refresh token request to the
// access token minted now. A granted set may only be narrowed: a resource
// outside the grant's resources (or, when it has none, outside those the
// client may request) is invalid_target; an authorization_details element
// the grant does not hold is invalid_authorization_details. The grant
// itself keeps what was consented, so a later refresh may ask for another
// part of it.
func (s *Service) narrow(req *Request, client *store.Client, d *Decision) error {
	g := d.Grant
	if vs := req.Form["resource"]; len(vs) > 0 {
		bound := g.Resources
		if len(bound) == 0 {
			bound = authzpolicy.AllowedResources(s.Config.Resources, client)
		}
		var aud []string
		for _, v := range vs {
			if !oauth.ValidResource(v) {
				return oauth.InvalidTarget("resource must be an absolute URI without a fragment")
			}
			if !slices.Contains(bound, v) {
				return oauth.InvalidTarget("the resource was not granted")
			}
			if !slices.Contains(aud, v) {
				aud = append(aud, v)
			}
		}
		if s.spec(g.Tokens).AccessTokenEncoding == oauth.TokenEncodingIdentifier && !sameSet(aud, g.Audience) {
			// Identifier tokens take their audience from the grant.
			return oauth.InvalidTarget("a resource other than the granted ones needs a SELF_CONTAINED access token")
		}
		d.Audience = aud
	}
	if raw := req.Form.Get("authorization_details"); raw != "" {
		var elems []json.RawMessage
		if err := json.Unmarshal([]byte(raw), &elems); err != nil {
			return oauth.InvalidRequest("authorization_details must be a JSON array of objects")
		}
		var types []string
		for _, e := range g.AuthorizationDetails {
			var t struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(e, &t) == nil {
				types = append(types, t.Type)
			}
		}
		sub, err := oauth.AuthorizationDetails(g.AuthorizationDetails).Subset(elems, types)
		if err != nil {
			return err
		}
		if len(sub) == 0 {
			return oauth.InvalidRequest("authorization_details must not be empty")
		}
		if s.spec(g.Tokens).AccessTokenEncoding == oauth.TokenEncodingIdentifier && len(sub) != len(g.AuthorizationDetails) {
			return oauth.InvalidAuthorizationDetails("narrowed authorization_details need a SELF_CONTAINED access token")
		}
		d.AuthorizationDetails = sub
	}
	return nil
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}
