// Package authzstore implements the authorisation store API (docs/api.md
// §13; Connect2id's original is
// https://connect2id.com/products/server/docs/integration/authz-store): an
// operator reads, adds, replaces, updates and deletes the long-lived
// authorisations (remembered consent, keyed by subject and client), lists
// the subjects and clients that have one, page by page, revokes
// authorisations with their tokens by subject, client, actor or a single
// token, and inspects the authorisation behind an access or refresh token.
//
// Authorisations travel in Connect2id's compact JSON members ("sub",
// "cid", "scp", …; Authorization), so that an export from Connect2id loads
// unchanged. Decoding is strict: an unknown member, or a known one of the
// wrong type, is refused with a description naming it.
//
// Revocation and inspection go through the Revoker and Inspector
// interfaces. GrantRevoker and TokenInspector implement them on the grant
// and token stores; a revocation journal that also reaches self-contained
// tokens can replace them without touching the API.
package authzstore
