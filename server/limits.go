package server

import "time"

// The node's own time limits and sizes, named once. Each bounds what a slow
// or hostile peer can hold: a client that sends headers slowly, a login UI
// that never answers, a jwks_uri that trickles.
const (
	// HTTP servers (public and admin listeners).
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10

	// shutdownTimeout is how long Run waits for requests in flight.
	shutdownTimeout = 10 * time.Second
	// readinessTimeout bounds the store and plug-in checks behind the ping.
	readinessTimeout = 2 * time.Second
	// inProcessTimeout bounds a call from the built-in login UI or demo
	// client to the node's own web APIs.
	inProcessTimeout = 10 * time.Second
	// jwksFetchTimeout bounds the fetch of a client's jwks_uri.
	jwksFetchTimeout = 5 * time.Second
)

// requestDeadline bounds the work, backend calls included, of one request:
// a hung PostgreSQL or a stopped Redis makes the request fail with 503
// temporarily_unavailable (docs/api.md §6) instead of holding it and its
// connection until the client gives up. It is below writeTimeout so that
// the answer can still be written.
const requestDeadline = 10 * time.Second
