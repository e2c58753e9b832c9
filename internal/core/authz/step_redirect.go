package authz

import (
	"context"
	"net"
	"net/url"
	"slices"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// stepRedirectURI selects the redirect URI (RFC 6749 §3.1.2.3, OIDC Core
// §3.1.2.1): it is required for OpenID requests and for clients with
// several registered URIs, and must equal a registered one exactly
// (RFC 9700 §4.1.3). Registration already rejected URIs with fragments or
// reserved query parameters. Failures are never redirected.
func stepRedirectURI(_ context.Context, _ *Service, f *flow) error {
	uri, ok := single(f.params, "redirect_uri")
	if !ok {
		return oauth.InvalidRequest("repeated redirect_uri parameter").NoRedirect()
	}
	registered := f.client.Metadata.RedirectURIs
	if uri == "" {
		scope, _ := single(f.params, "scope")
		if len(registered) != 1 || oauth.ParseScope(scope).Contains(oauth.ScopeOpenID) {
			return oauth.InvalidRequest("missing redirect_uri parameter").NoRedirect()
		}
		uri = registered[0]
	} else if !redirectMatches(f.client, uri) {
		return oauth.InvalidRequest("the redirect_uri is not registered for the client").NoRedirect()
	}
	f.req.RedirectURI = uri
	f.redirectVerified = true
	return nil
}

// redirectMatches compares exactly, except that for native clients a
// loopback IP redirect URI may use any port (RFC 8252 §7.3).
func redirectMatches(c *store.Client, uri string) bool {
	if slices.Contains(c.Metadata.RedirectURIs, uri) {
		return true
	}
	if c.Metadata.ApplicationType != oauth.ApplicationTypeNative {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || !isLoopbackHTTP(u) {
		return false
	}
	for _, r := range c.Metadata.RedirectURIs {
		ru, err := url.Parse(r)
		if err != nil || !isLoopbackHTTP(ru) {
			continue
		}
		if ru.Hostname() == u.Hostname() && ru.EscapedPath() == u.EscapedPath() &&
			ru.RawQuery == u.RawQuery && u.Fragment == "" && u.User == nil && ru.User == nil {
			return true
		}
	}
	return false
}

func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
