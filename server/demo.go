package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/demorp"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Demo client credentials, printed by serve --demo. Demo mode implies --dev
// and is for trying Keyward out only.
const (
	DemoClientID     = "demo"
	DemoClientSecret = "demo-secret-for-local-testing-only-0123456789"
)

// seedDemo registers the demo client (once) and mounts the demo relying
// party at /demo.
func (s *Server) seedDemo(ctx context.Context, issuer string) error {
	if s.cfg.Authz.Profile == authzpolicy.ProfileFAPI2 {
		// The demo client authenticates with a secret, which the FAPI 2.0
		// profile refuses; the demo users stay for FAPI clients to log in.
		fmt.Fprintf(s.stdout, "\nKeyward demo mode (development only): no demo client under authz.profile fapi2; sign in as alice / alice-password with a client you register.\n")
		return nil
	}
	md := store.ClientMetadata{
		ClientName:              "Keyward demo client",
		RedirectURIs:            []string{issuer + "/demo/callback", "http://127.0.0.1:9999/callback"},
		GrantTypes:              []string{oauth.GrantTypeAuthorizationCode, oauth.GrantTypeRefreshToken},
		ResponseTypes:           []string{oauth.ResponseTypeCode},
		TokenEndpointAuthMethod: oauth.AuthMethodClientSecretBasic,
		Scope:                   "openid profile email address phone offline_access",
		// Where the logout page may send the browser back (RP-Initiated
		// Logout 1.0 §3): the demo client's start page.
		PostLogoutRedirectURIs: []string{issuer + "/demo"},
	}
	_, err := s.clients.Create(ctx, md, clientreg.CreateOptions{PreferredID: DemoClientID, PreferredSecret: DemoClientSecret})
	if err != nil && !errors.Is(err, store.ErrExists) {
		if _, getErr := s.clients.Get(ctx, DemoClientID); getErr != nil {
			return err
		}
	}
	transport := &inProcessTransport{}
	transport.set(s.public)
	rp := demorp.New(demorp.Config{
		Issuer:       issuer,
		ClientID:     DemoClientID,
		ClientSecret: DemoClientSecret,
		HTTPClient:   &http.Client{Transport: transport, Timeout: inProcessTimeout},
		Log:          s.log,
	})
	mux := http.NewServeMux()
	mux.Handle("/demo", rp)
	mux.Handle("/demo/", rp)
	mux.Handle("/", s.public)
	s.public = mux

	fmt.Fprintf(s.stdout, `
Keyward demo mode (development only).
  Open %[1]s/demo in a browser and sign in as alice / alice-password (or bob / bob-password).
  Demo client: client_id=%[2]s client_secret=%[3]s
  Redirect URIs: %[1]s/demo/callback, http://127.0.0.1:9999/callback
  Sign out: %[1]s/logout?client_id=%[2]s&post_logout_redirect_uri=%[1]s/demo
  Discovery: %[1]s/.well-known/openid-configuration
`, issuer, DemoClientID, DemoClientSecret)
	return nil
}
