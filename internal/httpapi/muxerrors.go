package httpapi

import (
	"net/http"
	"strings"
)

// integrationPrefixes are the paths of the integration web APIs
// (docs/api.md §1). Their clients are programs that parse every answer as
// JSON, so even the mux's own 404 and 405 answers are JSON there.
var integrationPrefixes = []string{
	"/authz-sessions/", "/direct-authz/", "/authz-store/", "/monitor/",
	"/session-store/", "/logout-sessions/",
}

// jsonMuxErrors answers requests under integrationPrefixes that match no
// route with a JSON error body, keeping the status (404, or 405 with its
// Allow header) the mux would have given; everything else goes to mux.
func jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || !underIntegrationPrefix(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		// The mux's answer for an unmatched request: record it for its
		// status and Allow header only; the body is plain text.
		rec := &statusOnly{header: http.Header{}, code: http.StatusOK}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		body := errorBody{Error: "not_found", ErrorDescription: "no such resource"}
		if rec.code == http.StatusMethodNotAllowed {
			body = errorBody{Error: "method_not_allowed", ErrorDescription: "method not allowed for this resource"}
		}
		writeJSON(w, rec.code, body)
	})
}

// statusOnly keeps the header and status of a response and drops its body.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }

func underIntegrationPrefix(path string) bool {
	for _, p := range integrationPrefixes {
		if strings.HasPrefix(path, p) || path+"/" == p {
			return true
		}
	}
	return false
}
