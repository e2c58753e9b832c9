package server

import "time"

// The node's own time limits and sizes, named once. Each bounds what a slow
// or hostile peer can hold: a client that sends headers slowly, a login UI
// that never answers, a jwks_uri that trickles.
const (
	// The HTTP servers' timeouts and sizes are configuration (http.*,
	// config/limits.go).

	// shutdownTimeout is how long Run waits for requests in flight.
	shutdownTimeout = 10 * time.Second
	// readinessTimeout bounds the store and plug-in checks behind the ping.
	readinessTimeout = 2 * time.Second
	// inProcessTimeout bounds a call from the built-in login UI or demo
	// client to the node's own web APIs.
	inProcessTimeout = 10 * time.Second
	// jwksFetchTimeout bounds the fetch of the jwks_uri of a trusted JWT
	// bearer issuer (grants.jwt_bearer.trusted_issuers), which the operator
	// configured and so is fetched without the client SSRF guard.
	jwksFetchTimeout = 5 * time.Second
)

// requestDeadline bounds the work, backend calls included, of one request:
// a hung PostgreSQL or a stopped Redis makes the request fail with 503
// temporarily_unavailable (docs/api.md §6) instead of holding it and its
// connection until the client gives up.
const requestDeadline = 10 * time.Second

// deadlineFor is the request deadline under the configured
// http.write_timeout: requestDeadline, or four fifths of a shorter write
// timeout, so that the 503 can still be written.
func deadlineFor(writeTimeout time.Duration) time.Duration {
	if writeTimeout > 0 && writeTimeout <= requestDeadline {
		return writeTimeout - writeTimeout/5
	}
	return requestDeadline
}
