// Package simple holds the built-in "simple" grant handlers: the client
// credentials handler (on by default), and the JWT and SAML 2.0 bearer
// handlers. Each grants the requested scope narrowed to the client's
// registered scope, as Connect2id's simple client credentials handler and
// self-issued JWT bearer handler do
// (https://connect2id.com/products/server/docs/integration/client-credentials-grant-handler).
//
// They keep no state and are safe for concurrent use.
package simple
