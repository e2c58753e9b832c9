package clientreg

import (
	"testing"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/oauth"
)

const fapiBody = `{"redirect_uris":["https://rp.example.com/cb"],"profile":"fapi2","token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://rp.example.com/jwks"`

func TestRegisterFAPI2Client(t *testing.T) {
	f := newFixture(t, nil)
	reg := mustRegister(t, f, fapiBody+`}`)
	md := reg.Metadata
	if md.Profile != authzpolicy.ProfileFAPI2 || !md.RequirePushedAuthorizationRequests ||
		md.CodeChallengeMethod != oauth.PKCEMethodS256 || md.IDTokenSignedResponseAlg != oauth.AlgES256 {
		t.Fatalf("registered metadata = %+v", md)
	}
}

func TestRegisterProfileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, body, desc string
		server           string
	}{
		{"unknown profile", `{"redirect_uris":["https://rp.example.com/cb"],"profile":"fapi1"}`, "unsupported profile: fapi1", ""},
		{"client secret", `{"redirect_uris":["https://rp.example.com/cb"],"profile":"fapi2"}`,
			"the FAPI 2.0 profile requires token_endpoint_auth_method private_key_jwt, tls_client_auth or self_signed_tls_client_auth", ""},
		{"client secret on a fapi2 server", webBody,
			"the FAPI 2.0 profile requires token_endpoint_auth_method private_key_jwt, tls_client_auth or self_signed_tls_client_auth", authzpolicy.ProfileFAPI2},
		{"RS256 assertions", fapiBody + `,"token_endpoint_auth_signing_alg":"RS256"}`,
			"the FAPI 2.0 profile allows only PS256, ES256 and EdDSA for token_endpoint_auth_signing_alg", ""},
		{"RS256 ID tokens", fapiBody + `,"id_token_signed_response_alg":"RS256"}`,
			"the FAPI 2.0 profile allows only PS256, ES256 and EdDSA for id_token_signed_response_alg", ""},
		{"hybrid", fapiBody + `,"response_types":["code id_token"],"grant_types":["authorization_code","implicit"]}`,
			"the FAPI 2.0 profile allows only response_types code", ""},
		{"plain PKCE", fapiBody + `,"code_challenge_method":"plain"}`, "the FAPI 2.0 profile requires code_challenge_method S256", ""},
		{"unknown details type", `{"redirect_uris":["https://rp.example.com/cb"],"authorization_details_types":["crypto"]}`,
			"unsupported authorization_details_types value: crypto", ""},
		{"allowed_resources without the operator", `{"redirect_uris":["https://rp.example.com/cb"],"allowed_resources":["https://api.example.com"]}`,
			"allowed_resources may only be set with the registration API token", ""},
		{"relative resource", `{"redirect_uris":["https://rp.example.com/cb"],"allowed_resources":["/api"]}`,
			"allowed_resources must be absolute URIs without a fragment", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) {
				c.Profile = tc.server
				c.AuthorizationDetailsTypes = []string{"payment_initiation"}
			})
			_, err := registerJSON(t.Context(), f.svc, tc.body)
			if oe := wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400); oe.Description != tc.desc {
				t.Errorf("description %q, want %q", oe.Description, tc.desc)
			}
		})
	}
}

func TestAllowedResourcesByTheOperator(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AuthorizationDetailsTypes = []string{"payment_initiation"} })
	body := `{"redirect_uris":["https://rp.example.com/cb"],"allowed_resources":["https://api.example.com"],"authorization_details_types":["payment_initiation"]}`
	req, oerr := DecodeRequest([]byte(body))
	if oerr != nil {
		t.Fatal(oerr)
	}
	req.Operator = true
	reg, err := f.svc.Register(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Metadata.AllowedResources) != 1 || len(reg.Metadata.AuthorizationDetailsTypes) != 1 {
		t.Fatalf("metadata = %+v", reg.Metadata)
	}
	// The client itself may not add a resource.
	_, err = updateJSON(t.Context(), f.svc, reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken),
		`{"client_id":"`+reg.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"allowed_resources":["https://api.example.com","https://other.example.com"]}`)
	wantOAuth(t, err, oauth.ErrCodeInvalidClientMetadata, 400)
	// But it may keep or drop them.
	if _, err := updateJSON(t.Context(), f.svc, reg.ClientID, WithRegistrationToken(reg.RegistrationAccessToken),
		`{"client_id":"`+reg.ClientID+`","redirect_uris":["https://rp.example.com/cb"],"allowed_resources":["https://api.example.com"]}`); err != nil {
		t.Fatalf("keeping allowed_resources: %v", err)
	}
}
