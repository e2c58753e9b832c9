package token

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// policy is the security profile in force for client.
func (s *Service) policy(client *store.Client) authzpolicy.Policy {
	return authzpolicy.For(s.Config.Profile, client)
}

// checkProfileAuth applies the profile's client authentication rules
// (FAPI 2.0 §5.3.2.1, §5.4.1) to an authenticated client, at every endpoint
// that authenticates clients (token, PAR, introspection, revocation): only
// private_key_jwt or mutual TLS, and an assertion signed with PS256, ES256
// or EdDSA whose aud is the issuer. Refusals are invalid_client (401).
func (s *Service) checkProfileAuth(client *store.Client, assertion string) error {
	p := s.policy(client)
	if !p.AllowsAuthMethod(client.Metadata.TokenEndpointAuthMethod) {
		return oauth.InvalidClient("the FAPI 2.0 profile requires private_key_jwt or mutual-TLS client authentication")
	}
	if assertion == "" {
		return nil
	}
	if !p.AllowsAlg(headerAlg(assertion)) {
		return oauth.InvalidClient("the FAPI 2.0 profile requires a client assertion signed with PS256, ES256 or EdDSA")
	}
	if p.FAPI2 && !audIsIssuer(assertion, s.Config.withDefaults().Issuer) {
		// FAPI 2.0 §5.3.2.1: the issuer identifier as the sole value of
		// "aud", a string, which no other endpoint's assertion can carry
		// (the audience injection of OpenID Foundation advisory 2025-01).
		return oauth.InvalidClient("the FAPI 2.0 profile requires the client assertion's aud to be the issuer identifier, as a string")
	}
	return nil
}

// audIsIssuer reports whether the (already verified) compact JWT's "aud"
// is the JSON string issuer.
func audIsIssuer(jwt, issuer string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return false
	}
	var aud string
	return json.Unmarshal(c.Aud, &aud) == nil && aud == issuer
}

// requireSenderConstrained refuses a token request of a FAPI 2.0 client
// that would get bearer tokens (FAPI 2.0 §5.3.2.1: "shall only issue
// sender-constrained access tokens"): it must carry a DPoP proof
// (RFC 9449) or come with the client's TLS certificate for
// certificate-bound tokens (RFC 8705 §3), as senderConstrain decided.
func (s *Service) requireSenderConstrained(client *store.Client, req *Request) error {
	if !s.policy(client).FAPI2 || req.SenderConstrained() {
		return nil
	}
	return oauth.InvalidRequest("the FAPI 2.0 profile requires sender-constrained tokens: send a DPoP proof (RFC 9449) or use mutual TLS with certificate-bound tokens (RFC 8705)")
}
