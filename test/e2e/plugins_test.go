package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/plugintest"
	"github.com/keyward/keyward/plugin/users"
	"github.com/keyward/keyward/server"
)

// departmentSource is a downstream build's own claims source plug-in.
type departmentSource struct{ Department string }

func (d departmentSource) Claims(_ context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	out := map[string]any{}
	for _, c := range req.Claims {
		if c == "department" {
			out[c] = d.Department
		}
	}
	return out, nil
}

func (departmentSource) SupportedClaims() []string { return []string{"department"} }

// TestClaimsFromWebhookAndPlugin: claims come together at UserInfo from the
// users file, a real web hook (signed, bearer-authenticated) and a plug-in
// a downstream build registered through server.Options.Plugins.
func TestClaimsFromWebhookAndPlugin(t *testing.T) {
	hr, err := users.New([]users.User{{Sub: "alice", Username: "alice", Claims: map[string]any{"employee_id": "E-1001"}}})
	if err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(plugintest.ClaimsHook(t, hr, plugintest.ClaimsHookOptions{BearerToken: "hook-token", HMACSecret: []byte("hook-secret")}))
	defer hook.Close()

	factory := func(raw json.RawMessage) (any, error) {
		var d departmentSource
		return d, json.Unmarshal(raw, &d)
	}
	e := newEnvFull(t, server.Options{Plugins: plugin.Factories{"departments": factory}}, func(c *config.Config) {
		c.Claims.Sources = []config.ClaimsSource{
			{Type: "users"},
			{Type: "webhook", URL: hook.URL, Token: "hook-token", HMACSecret: "hook-secret", Timeout: 2 * time.Second,
				SupportedClaims: []string{"employee_id"}},
			{Type: "departments", Config: map[string]any{"Department": "Research"}},
		}
	})
	r := e.newRP(nil)
	verifier := oauth2.GenerateVerifier()
	claimsParam := `{"userinfo":{"employee_id":null,"department":{"essential":true},"email":null}}`
	authURL := r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("claims", claimsParam))
	params, _ := r.loginViaAPI(authURL, "alice", "")
	tok, err := r.conf.Exchange(r.ctx(), params.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.provider.UserInfo(r.ctx(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	info.Claims(&got)
	for claim, want := range map[string]any{"email": "alice@example.com", "employee_id": "E-1001", "department": "Research"} {
		if got[claim] != want {
			t.Errorf("userinfo %s = %v, want %v (all: %v)", claim, got[claim], want, got)
		}
	}

	// A plug-in type the build does not have stops the server at start.
	_, err = server.New(t.Context(), func() config.Config {
		c := config.Default()
		c.DataDir = t.TempDir()
		c.Claims.Sources = []config.ClaimsSource{{Type: "nonexistent"}}
		return c
	}(), server.Options{})
	if err == nil {
		t.Error("server started with an unknown claims source type")
	}

}
