package server

import (
	"fmt"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin/ldap"
	"github.com/keyward/keyward/plugin/users"
)

// ldapSource is a configured claims source of type ldap, kept so that
// login.directory and grants.password.handler ldap can check passwords
// against it.
type ldapSource struct {
	id  string
	src *ldap.Source
}

func newLDAPClaimsSource(src config.ClaimsSource) (*ldap.Source, error) {
	return ldap.New(ldap.Config{
		URL:              src.URL,
		StartTLS:         src.StartTLS,
		CAFile:           src.CAFile,
		BindDN:           src.BindDN,
		BindPassword:     string(src.BindPassword),
		BindPasswordFile: src.BindPasswordFile,
		BaseDN:           src.BaseDN,
		Filter:           src.Filter,
		Claims:           src.Claims,
		SubjectAttribute: src.SubjectAttribute,
		LoginFilter:      src.LoginFilter,
		PoolSize:         src.PoolSize,
		Timeout:          src.Timeout,
	})
}

// ldapDirectory is the ldap source passwords are checked against:
// the one login.directory names by id, else the only one.
func (s *Server) ldapDirectory() (*ldap.Source, error) {
	want := s.cfg.Login.Directory
	for _, l := range s.ldap {
		if want != "" && want != "ldap" && want != "users" && l.id == want {
			return l.src, nil
		}
	}
	if len(s.ldap) == 1 {
		return s.ldap[0].src, nil
	}
	return nil, fmt.Errorf("%d claims sources of type ldap; name the one that checks passwords in login.directory by its id", len(s.ldap))
}

// loginAuthenticator is where the reference login UI checks passwords
// (login.directory): the users file, or an ldap source.
func (s *Server) loginAuthenticator() (users.Authenticator, error) {
	if d := s.cfg.Login.Directory; d == "" || d == "users" {
		return s.users, nil
	}
	dir, err := s.ldapDirectory()
	if err != nil {
		return nil, fmt.Errorf("login.directory: %w", err)
	}
	return dir, nil
}

// builtIns names the built-in handler types of a grant, for messages.
func builtIns(path, builtIn string) string {
	if path == "grants.password" {
		return builtIn + ", ldap"
	}
	return builtIn
}
