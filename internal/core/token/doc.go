// Package token is the protocol core of the token endpoint (RFC 6749 §3.2)
// and of UserInfo (OIDC Core §5.3): client authentication (RFC 6749 §2.3,
// OIDC Core §9, RFC 7523 §2.2), grant-type dispatch to small Grant hooks,
// and minting of access, refresh and ID tokens.
//
// The dispatcher (Service.Token) owns the phases every grant shares —
// client authentication, the client's grant-type allow-list and token
// minting — so a grant only decides the authorisation (docs/architecture.md).
//
// The package works on parsed values (url.Values, *store.Client) and
// returns data or *oauth.Error; it must not import net/http, database/sql,
// any store backend or any plug-in implementation. Time comes from
// Service.Now, randomness from Service.Rand.
package token
