package authz

import (
	"context"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// parRequestURIPrefix starts every request_uri we issue (RFC 9126 §2.2).
const parRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// stepDuplicates rejects any repeated parameter (RFC 6749 §3.1); from here
// on errors are redirected.
func stepDuplicates(_ context.Context, _ *Service, f *flow) error {
	for name, v := range f.params {
		if len(v) > 1 && name != paramResource {
			return oauth.InvalidRequest("repeated " + name + " parameter")
		}
	}
	return nil
}

// stepRequestObject answers request objects (RFC 9101), which we neither
// support nor advertise (OIDC Core §6.1, §6.2). Pushed request URIs were
// already resolved by stepPushedRequest.
func stepRequestObject(_ context.Context, _ *Service, f *flow) error {
	if f.params.Get("request") != "" {
		return oauth.RequestNotSupported("request objects are not supported")
	}
	if uri := f.params.Get("request_uri"); uri != "" {
		if f.pushed {
			return oauth.InvalidRequest("a pushed request must not contain request_uri")
		}
		return oauth.RequestURINotSupported("request_uri is supported only for pushed authorisation requests")
	}
	return nil
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
