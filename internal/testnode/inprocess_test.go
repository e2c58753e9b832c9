package testnode

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// TestStart: the node serves on its issuer URL, which discovery names, and
// the configure functions run before the node is built.
func TestStart(t *testing.T) {
	configured := false
	n := Start(t, server.Options{}, func(c *config.Config) {
		configured = true
		c.Registration.Open = true
	})
	if !configured {
		t.Fatal("the configure function did not run")
	}
	resp, err := http.Get(n.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if doc.Issuer != n.Issuer {
		t.Errorf("issuer %q, want the listener URL %q", doc.Issuer, n.Issuer)
	}
	// Open registration, set by the configure function, admits a client
	// without a token.
	resp2, err := http.Post(n.Issuer+"/clients", "application/json",
		strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusCreated {
		t.Errorf("open registration: %d, want 201", resp2.StatusCode)
	}
}
