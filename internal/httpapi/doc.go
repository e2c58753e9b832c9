// Package httpapi is Keyward's thin HTTP layer: every route in one place
// (routes.go), one file per endpoint group, and the shared decoding,
// encoding, error mapping and middleware. Handlers decode the request, call
// the protocol core and encode its result; they never touch a store or a
// plug-in directly.
//
// Errors map as follows: *oauth.Error → its status and the RFC 6749 §5.2
// JSON body; an error wrapping store.ErrNotFound → 404; anything else →
// 500 server_error, logged with the request ID and never described to the
// client.
package httpapi
