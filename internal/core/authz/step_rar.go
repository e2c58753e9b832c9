package authz

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// paramResource is the resource indicator (RFC 8707 §2), the one parameter
// that may repeat.
const paramResource = "resource"

// stepResource checks the resource indicators (RFC 8707 §2): absolute URIs
// without a fragment, each one the server (authz.resources) or the client
// (allowed_resources) allows; otherwise invalid_target.
func stepResource(_ context.Context, s *Service, f *flow) error {
	vs := f.params[paramResource]
	if len(vs) == 0 {
		return nil
	}
	allowed := authzpolicy.AllowedResources(s.Config.Resources, f.client)
	var out []string
	for _, v := range vs {
		if !oauth.ValidResource(v) {
			return oauth.InvalidTarget("resource must be an absolute URI without a fragment")
		}
		if !slices.Contains(allowed, v) {
			return oauth.InvalidTarget("the client may not request this resource")
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	f.req.Resource = out
	return nil
}

// stepAuthorizationDetails parses authorization_details (RFC 9396 §2);
// a type the client may not use is invalid_authorization_details (§5).
func stepAuthorizationDetails(_ context.Context, s *Service, f *flow) error {
	raw := f.params.Get("authorization_details")
	if raw == "" {
		return nil
	}
	d, err := oauth.ParseAuthorizationDetails(raw, authzpolicy.AllowedAuthorizationDetailsTypes(s.Config.AuthorizationDetailsTypes, f.client))
	if err != nil {
		return err
	}
	f.req.AuthorizationDetails = []json.RawMessage(d)
	return nil
}

// stepProfile applies the security profile of the client
// (internal/core/authzpolicy) once the request is parsed.
func stepProfile(_ context.Context, s *Service, f *flow) error {
	return authzpolicy.For(s.Config.Profile, f.client).CheckAuthzRequest(f.pushed, f.params.Get("redirect_uri") != "", &f.req)
}

// checkProfileRequestObject applies the profile's algorithms (FAPI 2.0
// §5.4.1: PS256, ES256, EdDSA) to a request object before it is verified.
// A signed object's header names its algorithm; an encrypted one hides it
// until decryption, so the client must then have registered
// request_object_signing_alg, which registration confines to the
// profile's algorithms and the verifier enforces.
func checkProfileRequestObject(p authzpolicy.Policy, c *store.Client, raw string) error {
	if !p.FAPI2 {
		return nil
	}
	switch strings.Count(raw, ".") {
	case 2:
		if !p.AllowsAlg(jwsAlg(raw)) {
			return oauth.InvalidRequestObject("the FAPI 2.0 profile requires a request object signed with PS256, ES256 or EdDSA").NoRedirect()
		}
	case 4:
		if !p.AllowsAlg(c.Metadata.RequestObjectSigningAlg) {
			return oauth.InvalidRequestObject("the FAPI 2.0 profile requires a registered request_object_signing_alg for encrypted request objects").NoRedirect()
		}
	}
	return nil
}

// jwsAlg is the "alg" of a compact JWS header, unverified, or "".
func jwsAlg(raw string) string {
	head, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &h) != nil {
		return ""
	}
	return h.Alg
}
