package claims

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/oauth"
)

func mustClaims(t *testing.T, s string) *oauth.ClaimsRequest {
	t.Helper()
	cr, err := oauth.ParseClaimsRequest(s)
	if err != nil {
		t.Fatalf("ParseClaimsRequest(%s): %v", s, err)
	}
	return cr
}

func TestRequested(t *testing.T) {
	tests := []struct {
		name          string
		scope         string
		claims        string
		wantEssential []string
		wantVoluntary []string
	}{
		{name: "openid only", scope: "openid"},
		{
			name:          "email and phone scopes",
			scope:         "openid phone email",
			wantVoluntary: []string{"email", "email_verified", "phone_number", "phone_number_verified"},
		},
		{
			name:          "claims parameter essential beats scope voluntary",
			scope:         "openid email",
			claims:        `{"id_token":{"email":{"essential":true},"acr":null},"userinfo":{"picture":null}}`,
			wantEssential: []string{"email"},
			wantVoluntary: []string{"acr", "email_verified", "picture"},
		},
		{
			name:          "sub is never listed",
			scope:         "openid",
			claims:        `{"id_token":{"sub":{"value":"alice","essential":true}},"userinfo":{"sub":null,"name#de":null}}`,
			wantVoluntary: []string{"name#de"},
		},
		{
			name:          "essential in one member, voluntary in the other",
			scope:         "openid address",
			claims:        `{"id_token":{"address":{"essential":true}},"userinfo":{"address":null}}`,
			wantEssential: []string{"address"},
		},
		{
			name:          "unknown scope values add nothing",
			scope:         "openid offline_access api:read",
			claims:        `{"userinfo":{"x":null}}`,
			wantVoluntary: []string{"x"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req *oauth.ClaimsRequest
			if tc.claims != "" {
				req = mustClaims(t, tc.claims)
			}
			ess, vol := Requested(oauth.ParseScope(tc.scope), req)
			if diff := cmp.Diff(tc.wantEssential, ess); diff != "" {
				t.Errorf("essential (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantVoluntary, vol); diff != "" {
				t.Errorf("voluntary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpandConsented(t *testing.T) {
	ess := []string{"email"}
	vol := []string{"email_verified", "name"}
	tests := []struct {
		name      string
		consented []string
		want      []string
	}{
		{name: "nothing", consented: nil, want: nil},
		{name: "star means all requested", consented: []string{"*"}, want: []string{"email", "email_verified", "name"}},
		{name: "explicit kept, deduplicated and sorted", consented: []string{"name", "email", "name"}, want: []string{"email", "name"}},
		{name: "unrequested names kept", consented: []string{"custom"}, want: []string{"custom"}},
		{name: "id_token prefix kept", consented: []string{"*", "id_token:email"}, want: []string{"email", "email_verified", "id_token:email", "name"}},
		{name: "sub and empty dropped", consented: []string{"sub", "id_token:sub", "", "id_token:", "name"}, want: []string{"name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ExpandConsented(tc.consented, ess, vol)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ExpandConsented(%q) (-want +got):\n%s", tc.consented, diff)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name         string
		consented    []string
		claims       string
		wantIDToken  []string
		wantUserInfo []string
	}{
		{
			name:         "scope claims go to userinfo",
			consented:    []string{"name", "email"},
			wantUserInfo: []string{"email", "name"},
		},
		{
			name:         "id_token prefix stripped",
			consented:    []string{"id_token:email", "name"},
			wantIDToken:  []string{"email"},
			wantUserInfo: []string{"name"},
		},
		{
			name:         "claims parameter members decide",
			consented:    []string{"email", "acr_custom", "picture", "name"},
			claims:       `{"id_token":{"email":null,"acr_custom":{"essential":true}},"userinfo":{"picture":null}}`,
			wantIDToken:  []string{"acr_custom", "email"},
			wantUserInfo: []string{"name", "picture"},
		},
		{
			name:         "listed in both members goes to both",
			consented:    []string{"email"},
			claims:       `{"id_token":{"email":null},"userinfo":{"email":null}}`,
			wantIDToken:  []string{"email"},
			wantUserInfo: []string{"email"},
		},
		{
			name:        "prefix and member deduplicated",
			consented:   []string{"id_token:email", "email"},
			claims:      `{"id_token":{"email":null}}`,
			wantIDToken: []string{"email"},
		},
		{
			name:         "sub never split",
			consented:    []string{"sub", "id_token:sub", "name#de"},
			wantUserInfo: []string{"name#de"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var req *oauth.ClaimsRequest
			if tc.claims != "" {
				req = mustClaims(t, tc.claims)
			}
			id, ui := Split(tc.consented, req)
			if diff := cmp.Diff(tc.wantIDToken, id); diff != "" {
				t.Errorf("id token (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantUserInfo, ui); diff != "" {
				t.Errorf("userinfo (-want +got):\n%s", diff)
			}
		})
	}
}
