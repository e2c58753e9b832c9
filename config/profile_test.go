package config

import (
	"slices"
	"strings"
	"testing"
)

func TestProfileKeys(t *testing.T) {
	cfg, err := Load(Sources{Environ: []string{
		"KEYWARD_AUTHZ_AUTHORIZATION_DETAILS_TYPES=payment_initiation,account_information",
		"KEYWARD_AUTHZ_RESOURCES=https://api.example.com,urn:example:files",
		"KEYWARD_AUTHZ_PROFILE=fapi2",
		"KEYWARD_TOKENS_ID_TOKEN_ALG=ES256",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Authz.AuthorizationDetailsTypes, []string{"payment_initiation", "account_information"}) ||
		!slices.Equal(cfg.Authz.Resources, []string{"https://api.example.com", "urn:example:files"}) ||
		cfg.Authz.Profile != "fapi2" {
		t.Fatalf("authz = %+v", cfg.Authz)
	}
	// The defaults: no types, no resources, no profile.
	cfg, err = Load(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Authz.AuthorizationDetailsTypes) != 0 || len(cfg.Authz.Resources) != 0 || cfg.Authz.Profile != "" {
		t.Fatalf("defaults = %+v", cfg.Authz)
	}
}

func TestProfileRefusals(t *testing.T) {
	fapi := []string{"KEYWARD_AUTHZ_PROFILE=fapi2", "KEYWARD_TOKENS_ID_TOKEN_ALG=ES256"}
	for _, tc := range []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"unknown profile", []string{"KEYWARD_AUTHZ_PROFILE=fapi1"}, `authz.profile "fapi1" must be empty or fapi2`},
		{"relative resource", []string{"KEYWARD_AUTHZ_RESOURCES=/api"}, `authz.resources: "/api" must be an absolute URI`},
		{"resource with fragment", []string{"KEYWARD_AUTHZ_RESOURCES=https://api.example.com/#a"}, "authz.resources"},
		{"fapi2 with RS256 ID tokens", []string{"KEYWARD_AUTHZ_PROFILE=fapi2"}, `tokens.id_token_alg "RS256" must be one of PS256, ES256, EdDSA under authz.profile fapi2`},
		{"fapi2 with RS256 access tokens", append(fapi, "KEYWARD_TOKENS_ACCESS_TOKEN_ALG=RS256"), "tokens.access_token_alg"},
		{"fapi2 with a 90 s code", append(fapi, "KEYWARD_AUTHZ_CODE_LIFETIME=90s"), "authz.code_lifetime must not exceed 60s under authz.profile fapi2"},
		{"fapi2 with RS256 DPoP proofs", append(fapi, "KEYWARD_DPOP_ALGS=ES256,RS256"), `dpop.algs "RS256" must be one of PS256, ES256, EdDSA under authz.profile fapi2`},
		{"fapi2 with plain PKCE", append(fapi, "KEYWARD_AUTHZ_ALLOW_PLAIN_PKCE=true"), "authz.allow_plain_pkce must be off under authz.profile fapi2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Sources{Environ: tc.env})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Load: %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}
