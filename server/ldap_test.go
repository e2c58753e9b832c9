package server_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/internal/testldap"
	"github.com/keyward/keyward/server"
)

// TestLDAPStartUp: an ldap claims source connects at start; a bind
// password the directory refuses stops start-up naming the source, never
// showing the password.
func TestLDAPStartUp(t *testing.T) {
	dir := testldap.Start(t)
	ldapCfg := func(password string) config.Config {
		cfg := config.Default()
		cfg.DataDir = t.TempDir()
		cfg.Issuer = "http://127.0.0.1:8080"
		cfg.Claims.Sources = []config.ClaimsSource{{Type: "users"}, {
			Type: "ldap", URL: dir.LDAPSURL, CAFile: dir.CAFile, BindDN: testldap.BindDN, BindPassword: config.Secret(password),
			BaseDN: testldap.PeopleDN, Filter: "(uid={sub})", Claims: map[string]string{"email": "mail"},
		}}
		cfg.Login.Directory = "ldap"
		cfg.Grants.Password.Handler = "ldap"
		if errs := cfg.Validate(); len(errs) > 0 {
			t.Fatalf("config: %v", errs)
		}
		return cfg
	}
	s, err := server.New(t.Context(), ldapCfg(testldap.BindPassword), server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	const wrong = "not-the-bind-password"
	s, err = server.New(t.Context(), ldapCfg(wrong), server.Options{})
	if err == nil {
		s.Close()
		t.Fatal("started with a wrong bind password")
	}
	if !strings.Contains(err.Error(), "claims.sources[1] (ldap)") || strings.Contains(err.Error(), wrong) {
		t.Errorf("err = %v, want one naming claims.sources[1] (ldap) without the password", err)
	}
}
