package authz

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"

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
	if f.templateParam != "" {
		if uri == "" || !templateMatches(f.client, uri, f.templateParam) {
			return oauth.InvalidRequest("the redirect_uri does not match a registered redirect URI template filled with redirect_uri_template_param").NoRedirect()
		}
		f.req.RedirectURI = uri
		f.redirectVerified = true
		return nil
	}
	if uri == "" {
		scope, _ := single(f.params, "scope")
		if len(registered) != 1 || oauth.ParseScope(scope).Contains(oauth.ScopeOpenID) ||
			strings.HasPrefix(registered[0], RedirectURITemplatePrefix) {
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
	if strings.HasPrefix(uri, RedirectURITemplatePrefix) {
		// A template is never a redirect URI itself.
		return false
	}
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

// RedirectURITemplatePrefix marks a registered redirect URI template, whose
// "[param]" the login UI fills at start (Connect2id's
// urn:c2id:redirect_uri_template:, e.g.
// urn:c2id:redirect_uri_template:https://[param].example.com/cb).
const RedirectURITemplatePrefix = "urn:c2id:redirect_uri_template:"

// TemplatePlaceholder is the part of a template that the parameter fills.
const TemplatePlaceholder = "[param]"

// ValidTemplateParam admits a DNS label (RFC 1035 §2.3.1: letters, digits
// and hyphens, 1 to 63 characters, no hyphen at either end), so that a
// filled template can change only that label of the URI, never its host
// boundary, path or query.
func ValidTemplateParam(p string) bool {
	if len(p) == 0 || len(p) > 63 || p[0] == '-' || p[len(p)-1] == '-' {
		return false
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
			return false
		}
	}
	return true
}

// templateMatches reports whether uri is one of the client's registered
// templates filled with param.
func templateMatches(c *store.Client, uri, param string) bool {
	for _, r := range c.Metadata.RedirectURIs {
		tmpl, ok := strings.CutPrefix(r, RedirectURITemplatePrefix)
		if ok && strings.ReplaceAll(tmpl, TemplatePlaceholder, param) == uri {
			return true
		}
	}
	return false
}
