package authzpolicy

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

func TestFor(t *testing.T) {
	fapi := &store.Client{Metadata: store.ClientMetadata{Profile: ProfileFAPI2}}
	plain := &store.Client{}
	for _, tc := range []struct {
		server string
		c      *store.Client
		want   bool
	}{
		{"", plain, false},
		{"", fapi, true},
		{ProfileFAPI2, plain, true},
		{ProfileFAPI2, fapi, true},
		{ProfileFAPI2, nil, true},
	} {
		if got := For(tc.server, tc.c).FAPI2; got != tc.want {
			t.Errorf("For(%q, %+v).FAPI2 = %v, want %v", tc.server, tc.c, got, tc.want)
		}
	}
}

func TestPolicyRules(t *testing.T) {
	none, fapi := Policy{}, Policy{FAPI2: true}
	if !none.AllowsAlg("RS256") || fapi.AllowsAlg("RS256") || fapi.AllowsAlg("HS256") || !fapi.AllowsAlg("PS256") {
		t.Error("AllowsAlg")
	}
	if !none.AllowsAuthMethod(oauth.AuthMethodClientSecretBasic) || fapi.AllowsAuthMethod(oauth.AuthMethodClientSecretBasic) ||
		!fapi.AllowsAuthMethod(AuthMethodTLSClientAuth) {
		t.Error("AllowsAuthMethod")
	}
	if none.CodeLifetime(3*time.Minute) != 3*time.Minute || fapi.CodeLifetime(3*time.Minute) != time.Minute ||
		fapi.CodeLifetime(30*time.Second) != 30*time.Second {
		t.Error("CodeLifetime")
	}
	code := &store.AuthzRequest{ResponseType: []string{"code"}, CodeChallengeMethod: oauth.PKCEMethodS256}
	if err := fapi.CheckAuthzRequest(true, true, code); err != nil {
		t.Errorf("a compliant request: %v", err)
	}
	if err := none.CheckAuthzRequest(false, false, &store.AuthzRequest{}); err != nil {
		t.Errorf("no profile: %v", err)
	}
	for name, tc := range map[string]struct {
		pushed, redirect bool
		req              *store.AuthzRequest
		want             *oauth.Error
	}{
		"not pushed":  {false, true, code, oauth.InvalidRequest("")},
		"no redirect": {true, false, code, oauth.InvalidRequest("")},
		"hybrid":      {true, true, &store.AuthzRequest{ResponseType: []string{"code", "id_token"}, CodeChallengeMethod: "S256"}, oauth.UnsupportedResponseType("")},
		"no PKCE":     {true, true, &store.AuthzRequest{ResponseType: []string{"code"}}, oauth.InvalidRequest("")},
		"plain PKCE":  {true, true, &store.AuthzRequest{ResponseType: []string{"code"}, CodeChallengeMethod: "plain"}, oauth.InvalidRequest("")},
	} {
		if err := fapi.CheckAuthzRequest(tc.pushed, tc.redirect, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %s", name, err, tc.want.Code)
		}
	}
}

func TestCheckMetadataDefaults(t *testing.T) {
	md := &store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT}
	if err := (Policy{FAPI2: true}).CheckMetadata(md, []string{"RS256", "EdDSA"}); err != nil {
		t.Fatal(err)
	}
	if md.IDTokenSignedResponseAlg != "EdDSA" || !md.RequirePushedAuthorizationRequests || md.CodeChallengeMethod != "S256" {
		t.Errorf("metadata = %+v", md)
	}
	md = &store.ClientMetadata{TokenEndpointAuthMethod: oauth.AuthMethodPrivateKeyJWT}
	if err := (Policy{FAPI2: true}).CheckMetadata(md, []string{"RS256"}); err == nil || err.Code != oauth.ErrCodeInvalidClientMetadata {
		t.Errorf("no FAPI signing key: %v", err)
	}
}

func TestAllowedLists(t *testing.T) {
	c := &store.Client{Metadata: store.ClientMetadata{AllowedResources: []string{"https://b"}, AuthorizationDetailsTypes: []string{"y", "z"}}}
	if got := AllowedResources([]string{"https://a"}, c); len(got) != 2 {
		t.Errorf("AllowedResources = %v", got)
	}
	if got := AllowedAuthorizationDetailsTypes([]string{"x", "y"}, c); len(got) != 1 || got[0] != "y" {
		t.Errorf("AllowedAuthorizationDetailsTypes = %v, want [y]", got)
	}
	if got := AllowedAuthorizationDetailsTypes([]string{"x", "y"}, &store.Client{}); len(got) != 2 {
		t.Errorf("without client types = %v", got)
	}
}
