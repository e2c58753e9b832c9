package webhook_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/webhook"
)

func TestClaimsSourceFactory(t *testing.T) {
	var _ plugin.Factory = webhook.ClaimsSourceFactory
	tests := []struct {
		name    string
		raw     string
		wantErr string
	}{
		{name: "ok", raw: `{"url":"https://hooks.example.com/claims","bearer_token":"t","hmac_secret":"s","timeout":"2s","supported_claims":["email","x_*"],"include_scope":true}`},
		{name: "unknown key", raw: `{"url":"https://hooks.example.com/","supported_claims":["x"],"secret":"s"}`, wantErr: "unknown field"},
		{name: "bad timeout", raw: `{"url":"https://hooks.example.com/","supported_claims":["x"],"timeout":"soon"}`, wantErr: "timeout"},
		{name: "http refused", raw: `{"url":"http://hooks.example.com/","supported_claims":["x"]}`, wantErr: "https"},
		{name: "not an object", raw: `[]`, wantErr: "config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := webhook.ClaimsSourceFactory(json.RawMessage(tc.raw))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			src, ok := v.(*webhook.ClaimsSource)
			if !ok {
				t.Fatalf("factory returned %T", v)
			}
			if diff := cmp.Diff([]string{"email", "x_*"}, src.SupportedClaims()); diff != "" {
				t.Errorf("supported claims (-want +got):\n%s", diff)
			}
		})
	}
}
