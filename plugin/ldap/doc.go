// Package ldap is the LDAP claims source (claims.sources type ldap) and the
// LDAP password check behind login.directory and the password grant handler
// "ldap": it reads a subject's entry from an LDAP directory (RFC 4511) with a
// service account and maps attributes to OpenID claims, and checks a
// password by binding as the user (RFC 4513 §5.1.3), as Connect2id's LDAP
// claims source and LDAP authentication do
// (https://connect2id.com/products/server/docs/integration/ldap-claims-source).
//
// Connections are pooled (a bounded number, bound as the service account),
// use ldaps:// or StartTLS (RFC 4511 §4.14) when configured, and are dropped
// and dialled again when the directory restarts. Every operation is bounded
// by the configured timeout and the request's context.
package ldap
