package authz

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/keyward/keyward/oauth"
)

// maxQueryLen bounds the query we parse; longer requests belong in PAR.
const maxQueryLen = 64 << 10

// checkRawQuery refuses a query over maxQueryLen, or with more pairs than
// oauth.MaxParams, before it is parsed.
func checkRawQuery(q string) *oauth.Error {
	q = strings.TrimPrefix(q, "?")
	if len(q) > maxQueryLen {
		return oauth.InvalidRequest(fmt.Sprintf("the authorisation request is longer than %d bytes; push large requests (PAR)", maxQueryLen))
	}
	if strings.Count(q, "&")+1 > oauth.MaxParams {
		return oauth.InvalidRequest(fmt.Sprintf("too many parameters: at most %d", oauth.MaxParams))
	}
	return nil
}

// parseQuery parses an authorisation request query string. Pairs with
// illegal escapes are dropped rather than failing the request (a stray '%'
// must not cost the user the login), and parameters without a value are
// treated as omitted (RFC 6749 §3.1). Repeated parameters are kept so that
// the pipeline can reject them.
// An over-long query yields no parameters (the pipeline then reports a
// missing client_id): truncating could silently change a value.
func parseQuery(q string) url.Values {
	q = strings.TrimPrefix(q, "?")
	if len(q) > maxQueryLen {
		return url.Values{}
	}
	// ParseQuery skips the pairs it cannot decode and reports only the
	// first error; the rest of the request stays usable.
	v, _ := url.ParseQuery(q)
	return cleanParams(v)
}

// clientAuthParams authenticate the client at the token and PAR endpoints
// (RFC 6749 §2.3.1, RFC 7523 §2.2). They are consumed there and are never
// part of an authorisation request: a request that carries them is stored
// (PAR, authorisation session) and shown to the login UI and plug-ins, so
// they are dropped wherever a request is read.
var clientAuthParams = map[string]bool{
	"client_secret":         true,
	"client_assertion":      true,
	"client_assertion_type": true,
}

// cleanParams drops empty names and values and the client authentication
// parameters.
func cleanParams(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		if k == "" || clientAuthParams[k] {
			continue
		}
		for _, s := range vals {
			if s != "" {
				out[k] = append(out[k], s)
			}
		}
	}
	return out
}

// ParseAuthorizationRequest is the parser Start applies to the query member:
// exported for the fuzz target and for callers that need the parameters
// without running the pipeline.
func ParseAuthorizationRequest(query string) url.Values { return parseQuery(query) }
