// Package clientreg registers and manages OAuth clients: OAuth 2.0 Dynamic
// Client Registration (RFC 7591), its management protocol (RFC 7592) and
// OpenID Connect Dynamic Registration 1.0, plus the administrative
// operations the master API token and the command line use.
//
// It validates client metadata (redirect URIs, grant and response types,
// authentication methods, keys, algorithms), generates client IDs, secrets
// and registration access tokens, stores only their digests (or, for
// client_secret_jwt, the secret sealed under the master key), and keeps the
// short-lived in-memory client cache every authorisation and token request
// reads through (Service.Get).
//
// The package is protocol core: it must not import net/http (net/url is
// fine), database/sql, any store backend or any plug-in implementation. The
// HTTP layer decodes requests, checks the master API token and calls the
// Service; results are data, never writes to a ResponseWriter.
package clientreg
