package server_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/server"
)

// A bad users file or plug-in setting stops New before it creates anything:
// no data directory, database or key.
func TestBadSettingsCreateNothing(t *testing.T) {
	badUsers := filepath.Join(t.TempDir(), "users.yaml")
	os.WriteFile(badUsers, []byte("users:\n  - username: nosub\n"), 0o600)
	refuse := plugin.Factories{"picky": func(raw json.RawMessage) (any, error) {
		return nil, errors.New("setting colour must be red or blue")
	}}
	for _, tt := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"users file", func(c *config.Config) { c.Users = badUsers }, "users file"},
		{"claims plug-in", func(c *config.Config) {
			c.Claims.Sources = append(c.Claims.Sources, config.ClaimsSource{Type: "picky", Config: map[string]any{"colour": "green"}})
		}, "claims.sources[1]: setting colour"},
		{"grant plug-in", func(c *config.Config) {
			c.Grants.Password = config.GrantHandler{Handler: "picky"}
		}, "grants.password.handler: setting colour"},
	} {
		cfg := config.Default()
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		tt.edit(&cfg)
		_, err := server.New(t.Context(), cfg, server.Options{Plugins: refuse})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
		if _, err := os.Stat(cfg.DataDir); err == nil {
			t.Errorf("%s: the data directory was created", tt.name)
		}
	}
}
