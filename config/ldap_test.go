package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
)

func loadYAML(t *testing.T, yaml string) (config.Config, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.Sources{File: file})
}

const ldapSource = `
    - type: ldap
      id: corp
      url: ldaps://ldap.example.org
      bind_dn: cn=keyward,dc=example,dc=org
      bind_password_file: /run/secrets/ldap
      base_dn: ou=people,dc=example,dc=org
      filter: "(uid={sub})"
      login_filter: "(mail={username})"
      subject_attribute: uid
      pool_size: 4
      timeout: 2s
      ca_file: /etc/ssl/ldap-ca.pem
      claims: { email: mail, name: cn, groups: "memberOf[]", address.locality: l }
`

func TestLDAPKeys(t *testing.T) {
	cfg, err := loadYAML(t, "claims:\n  sources:\n    - type: users"+ldapSource+"login:\n  directory: corp\ngrants:\n  password:\n    handler: ldap\n")
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Claims.Sources[1]
	if src.ID != "corp" || src.URL != "ldaps://ldap.example.org" || src.BindPasswordFile != "/run/secrets/ldap" ||
		src.Claims["address.locality"] != "l" || src.PoolSize != 4 || src.LoginFilter != "(mail={username})" || cfg.Login.Directory != "corp" {
		t.Errorf("decoded %+v, login %+v", src, cfg.Login)
	}
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Errorf("Validate() = %v", errs)
	}
}

func TestLDAPValidation(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "claims:\n  sources:" + ldapSource + "      bind_passwd: x\n", "bind_passwd"},
		{"http url", "claims:\n  sources:" + strings.Replace(ldapSource, "ldaps://", "https://", 1), "ldap://host"},
		{"filter without sub", "claims:\n  sources:" + strings.Replace(ldapSource, "{sub}", "alice", 1), "must contain {sub}"},
		{"two passwords", "claims:\n  sources:" + ldapSource + "      bind_password: x\n", "one of bind_password"},
		{"ldap keys on webhook", "claims:\n  sources:\n    - type: webhook\n      url: https://x\n      bind_dn: cn=x\n", "bind_dn apply to type ldap only"},
		{"claims on users", "claims:\n  sources:\n    - type: users\n      claims: {email: mail}\n", "does not apply to type users"},
		{"webhook keys on ldap", "claims:\n  sources:" + ldapSource + "      token: x\n", "token does not apply to type ldap"},
		{"login directory without ldap", "login:\n  directory: ldap\n", "exactly one claims source of type ldap"},
		{"login directory unknown id", "claims:\n  sources:" + ldapSource + "login:\n  directory: hr\n", `login.directory "hr"`},
		{"two ldap sources, no id", "claims:\n  sources:" + ldapSource + strings.Replace(ldapSource, "corp", "hr", 1) + "login:\n  directory: ldap\n", "name one by its id"},
		{"duplicate id", "claims:\n  sources:" + ldapSource + ldapSource, "used twice"},
		{"password grant without ldap", "grants:\n  password:\n    handler: ldap\n", "grants.password.handler ldap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadYAML(t, tc.yaml)
			var all []string
			if err != nil {
				all = append(all, err.Error())
			} else {
				for _, e := range cfg.Validate() {
					all = append(all, e.Error())
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("errors %q, want one containing %q", all, tc.want)
			}
		})
	}
}

func TestLoginDirectoryFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(file, []byte("claims:\n  sources:"+ldapSource), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{File: file, Environ: []string{"KEYWARD_LOGIN_DIRECTORY=ldap", "KEYWARD_GRANTS_PASSWORD_HANDLER=ldap"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Login.Directory != "ldap" || cfg.Grants.Password.Handler != "ldap" {
		t.Errorf("login.directory = %q, grants.password.handler = %q", cfg.Login.Directory, cfg.Grants.Password.Handler)
	}
}
