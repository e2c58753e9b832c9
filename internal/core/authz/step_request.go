package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/core/authzpolicy"
	"github.com/keyward/keyward/internal/jose"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// parRequestURIPrefix starts every request_uri we issue (RFC 9126 §2.2).
const parRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// maxRequestURILen bounds a request_uri by reference; RFC 9101 §5.2 asks
// clients to stay under 512 ASCII characters.
const maxRequestURILen = 2048

// RequestObjectVerifier verifies a request object (RFC 9101 §6) of client
// and returns its parameters (jose.RequestObjects). Errors wrapping
// jose.ErrRequestObject are the object's fault.
type RequestObjectVerifier interface {
	VerifyRequestObject(ctx context.Context, raw string, client *store.Client, issuer string) (map[string]any, error)
}

// RequestURIFetcher gets the request object at a client's request_uri
// (RFC 9101 §5.2.3), at most maxBytes of it. The server supplies one that
// refuses non-public addresses.
type RequestURIFetcher interface {
	Fetch(ctx context.Context, rawURL string, maxBytes int64) ([]byte, error)
}

// stepDuplicates rejects any repeated parameter (RFC 6749 §3.1); from here
// on errors are redirected.
func stepDuplicates(_ context.Context, _ *Service, f *flow) error {
	for name, v := range f.params {
		// RFC 8707 §2: resource may be repeated, one per resource.
		if len(v) > 1 && name != paramResource {
			return oauth.InvalidRequest("repeated " + name + " parameter")
		}
	}
	return nil
}

// stepRequestObject resolves a request object (RFC 9101), passed by value
// in "request" or by reference in "request_uri", and replaces the
// parameters with the verified ones, so that every later step, the stored
// request and the session API see only those (RFC 9101 §6.3: parameters
// outside the object are ignored; client_id is kept from the query and
// must match). It runs before redirect_uri, which may be inside the
// object, so its errors are never redirected. Pushed request URIs were
// already resolved by stepPushedRequest; a request object pushed to the
// PAR endpoint is resolved here during Push.
func stepRequestObject(ctx context.Context, s *Service, f *flow) error {
	raw, okReq := single(f.params, "request")
	uri, okURI := single(f.params, "request_uri")
	switch {
	case !okReq:
		return oauth.InvalidRequest("repeated request parameter").NoRedirect()
	case !okURI:
		return oauth.InvalidRequest("repeated request_uri parameter").NoRedirect()
	case uri != "" && f.pushed:
		return oauth.InvalidRequest("a pushed request must not contain request_uri").NoRedirect()
	case raw != "" && uri != "":
		return oauth.InvalidRequest("request and request_uri must not both be present").NoRedirect()
	}
	if uri != "" {
		fetched, err := s.fetchRequestObject(ctx, f.client, uri)
		if err != nil {
			return err
		}
		raw = fetched
	}
	if raw == "" {
		// A pushed request was checked when it was pushed: its stored
		// parameters no longer hold the object they came from.
		if (!f.pushed || f.atPush) && s.requireSignedRequestObject(f.client) {
			return oauth.InvalidRequest("the client must send its request in a signed request object (require_signed_request_object)").NoRedirect()
		}
		return nil
	}
	if s.RequestObjects == nil {
		return oauth.RequestNotSupported("request objects are not supported").NoRedirect()
	}
	if err := checkProfileRequestObject(authzpolicy.For(s.Config.Profile, f.client), f.client, raw); err != nil {
		return err
	}
	claims, err := s.RequestObjects.VerifyRequestObject(ctx, raw, f.client, s.Config.Issuer)
	if err != nil {
		if !errors.Is(err, jose.ErrRequestObject) {
			// The client's jwks_uri could not be read: its problem, not ours,
			// but worth a line in the log.
			s.log().WarnContext(ctx, "request object not verified", "client_id", f.client.ID, "err", err)
			return oauth.InvalidRequestObject("the client's keys could not be obtained").NoRedirect()
		}
		// The description may quote the object; keep only what RFC 6749
		// §4.1.2.1 allows in error_description.
		return oauth.InvalidRequestObject(sanitize(strings.TrimPrefix(err.Error(), jose.ErrRequestObject.Error()+": "))).NoRedirect()
	}
	params, oe := requestObjectParams(claims, f.client.ID)
	if oe != nil {
		return oe.NoRedirect()
	}
	f.params = params
	return nil
}

// requireSignedRequestObject applies the client's
// require_signed_request_object or the global authz setting.
func (s *Service) requireSignedRequestObject(c *store.Client) bool {
	return s.Config.RequireSignedRequestObject || c.Metadata.RequireSignedRequestObject
}

// requestObjectParams turns the verified claims into request parameters:
// strings as they are, numbers and booleans in their JSON form, objects
// (claims, authorization_details) as JSON text, which is what the later
// steps parse from a query.
func requestObjectParams(claims map[string]any, clientID string) (url.Values, *oauth.Error) {
	out := url.Values{}
	for name, v := range claims {
		var s string
		switch t := v.(type) {
		case nil:
			continue
		case string:
			s = t
		case json.Number:
			s = t.String()
		case bool:
			s = fmt.Sprint(t)
		case []any:
			if name == paramResource {
				// RFC 8707 §2: one value per resource, as in a query.
				for _, r := range t {
					rs, ok := r.(string)
					if !ok {
						return nil, oauth.InvalidRequestObject("resource must be a string or an array of strings")
					}
					out.Add(name, rs)
				}
				continue
			}
			b, err := json.Marshal(t)
			if err != nil {
				return nil, oauth.InvalidRequestObject("the " + name + " member cannot be encoded")
			}
			s = string(b)
		default:
			b, err := json.Marshal(t)
			if err != nil {
				return nil, oauth.InvalidRequestObject("the " + name + " member cannot be encoded")
			}
			s = string(b)
		}
		out.Set(name, s)
	}
	switch {
	case out.Get("request") != "" || out.Get("request_uri") != "":
		return nil, oauth.InvalidRequestObject("a request object must not contain request or request_uri")
	case out.Get("client_id") != "" && out.Get("client_id") != clientID:
		return nil, oauth.InvalidRequestObject("the request object's client_id does not match the client_id parameter")
	}
	out.Set("client_id", clientID)
	return cleanParams(out), nil
}

// fetchRequestObject gets the request object at uri, which must be one of
// the client's registered request_uris (requestURIMatches).
func (s *Service) fetchRequestObject(ctx context.Context, c *store.Client, uri string) (string, error) {
	if s.RequestURIs == nil || s.RequestObjects == nil {
		return "", oauth.RequestURINotSupported("request_uri is supported only for pushed authorisation requests").NoRedirect()
	}
	if len(uri) > maxRequestURILen || !requestURIMatches(c.Metadata.RequestURIs, uri) {
		return "", oauth.InvalidRequestURI("the request_uri is not registered for the client").NoRedirect()
	}
	body, err := s.RequestURIs.Fetch(ctx, uri, jose.MaxRequestObjectBytes)
	if err != nil {
		s.log().InfoContext(ctx, "request_uri fetch failed", "client_id", c.ID, "err", err)
		return "", oauth.InvalidRequestURI("the request_uri could not be fetched").NoRedirect()
	}
	raw := strings.TrimSpace(string(body))
	if raw == "" {
		return "", oauth.InvalidRequestURI("the request_uri holds no request object").NoRedirect()
	}
	return raw, nil
}

// requestURIMatches compares a request_uri with the registered ones,
// fragments (a cache key, OIDC Core §6.2) ignored: it must equal one, or
// extend one that ends in "/" by a single path segment of unreserved
// characters (RFC 3986 §2.3), so a client may register a directory of
// objects without opening the rest of its host.
func requestURIMatches(registered []string, uri string) bool {
	base, _, _ := strings.Cut(uri, "#")
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.User != nil {
		return false
	}
	return slices.ContainsFunc(registered, func(r string) bool {
		r, _, _ = strings.Cut(r, "#")
		if r == base {
			return true
		}
		rest, ok := strings.CutPrefix(base, r)
		return ok && strings.HasSuffix(r, "/") && rest != "" && rest != "." && rest != ".." && unreservedOnly(rest)
	})
}

func unreservedOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~') {
			return false
		}
	}
	return true
}

// stepPARRequired enforces the client's require_pushed_authorization_requests
// (RFC 9126 §6).
func stepPARRequired(_ context.Context, _ *Service, f *flow) error {
	if f.client.Metadata.RequirePushedAuthorizationRequests && !f.pushed {
		return oauth.InvalidRequest("the client must use pushed authorisation requests")
	}
	return nil
}

func isPARRequestURI(uri string) bool { return strings.HasPrefix(uri, parRequestURIPrefix) }
