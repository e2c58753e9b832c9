// Package jose owns the server's signing keys and every JWS it signs or
// verifies: the KeyManager (generation, sealing, sharing through
// store.KeyStore, rotation, the published JWK set), verification of our own
// tokens with an algorithm allow-list, verification of client assertions for
// client_secret_jwt and private_key_jwt (RFC 7523 §3, OIDC Core §9), and
// validation of client-registered JWK sets.
//
// All JOSE work is delegated to github.com/go-jose/go-jose/v4; this package
// only chooses keys and algorithms and checks claims. "none" is never
// accepted, HMAC algorithms only for client_secret_jwt.
//
// It imports only store, oauth (vocabulary), internal/secret, go-jose and the
// standard library, and no network package: a client's jwks_uri is fetched
// through the Fetcher the server supplies (internal/jwksfetch), so that the
// protocol core reaches net/http through nothing. Never a store backend, a
// core package or the HTTP layer. Errors are plain wrapped errors
// that callers translate (usually to invalid_client or invalid_token).
package jose
