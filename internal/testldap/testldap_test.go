package testldap_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/keyward/keyward/internal/testldap"
)

func TestStartSeedsDirectory(t *testing.T) {
	s := testldap.Start(t)
	for _, url := range []string{s.URL, s.LDAPSURL} {
		c, err := ldap.DialURL(url, ldap.DialWithTLSConfig(s.TLSConfig()))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(testldap.BindDN, testldap.BindPassword); err != nil {
			t.Fatal(err)
		}
		res, err := c.Search(ldap.NewSearchRequest(testldap.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(uid=alice)", []string{"cn", "mail"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) != 1 {
			t.Fatalf("entries = %d", len(res.Entries))
		}
		t.Logf("%s: %v", url, res.Entries[0].Attributes[0])
		c.Close()
	}
	s.Stop()
	s.Restart()
}
