package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
)

// ClaimsRequest asks a claims source for claims about a subject
// (Connect2id's ClaimsSource SPI with its advanced request context).
type ClaimsRequest struct {
	Issuer  string
	Subject string
	// Claims are the claim names wanted, possibly with a language tag
	// ("name#de"); a source returns what it has and omits the rest.
	Claims []string
	// Locales are the preferred claims locales (OIDC Core §5.2).
	Locales []string
	// Transport is oauth.ClaimsTransportUserInfo or
	// oauth.ClaimsTransportIDToken.
	Transport        string
	ClientID         string
	Scope            []string
	ClaimsData       map[string]any
	SubjectSessionID string
}

// ClaimsSource supplies OpenID claims. It returns the claims it has for the
// subject; an unknown subject is an empty map, not an error.
type ClaimsSource interface {
	Claims(ctx context.Context, req ClaimsRequest) (map[string]any, error)
}

// ClaimsSupporter is implemented by claims sources that know which claims
// they can supply; names may end in "*" as a wildcard, and "*" alone means
// every claim.
type ClaimsSupporter interface {
	SupportedClaims() []string
}

// Env is what the server hands a plug-in at Init.
type Env struct {
	// Log is the server's logger, with the plug-in's configuration path
	// (e.g. "claims.sources[1]") and type attached.
	Log *slog.Logger
	// Issuer is the server's issuer URL, without a trailing slash.
	Issuer string
}

// Initializer is implemented by plug-ins that need setup after their
// configuration is decoded: opening connections, checking a directory is
// reachable. The server calls Init once, in configuration order, before it
// serves the first request, with the context it was built with. An error
// stops start-up with a message naming the plug-in.
type Initializer interface {
	Init(ctx context.Context, env Env) error
}

// HealthChecker is implemented by plug-ins that can report readiness. The
// server's readiness check calls Healthy; an error makes the node report
// not ready, naming the plug-in. Healthy must be cheap and safe for
// concurrent use: load balancers poll it.
type HealthChecker interface {
	Healthy(ctx context.Context) error
}

// Plug-ins that hold resources implement io.Closer: the server calls Close
// once on shutdown, in the reverse order of Init, after the last request.

// Factory builds a plug-in from its raw configuration object. The server
// calls it before it opens any store, so that wrong settings stop a node
// that has created nothing: a factory checks and keeps its settings and
// leaves I/O to Init.
type Factory func(raw json.RawMessage) (any, error)

// Factories maps a plug-in type name ("users", "webhook", …) to its factory.
// The server is given one map explicitly; nothing registers itself.
type Factories map[string]Factory

// ErrInvalidCredentials is what a password check (the users file, an LDAP
// directory) returns for an unknown user, a wrong password or a user
// without a password; the three are deliberately indistinguishable. The
// login UI and the password grant answer it with their generic failure.
var ErrInvalidCredentials = errors.New("invalid username or password")
