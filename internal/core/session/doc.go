// Package session manages subject (browser) sessions: the single sign-on
// state the login UI keeps in a cookie on the provider's domain
// (docs/api.md §5; Connect2id's subject session store,
// https://connect2id.com/products/server/docs/integration/session-store).
//
// The value the UI holds is "<key>.<mac>": key is 128 random bits, base64url,
// and is the only part stored (store.SubjectSession.ID); mac is
// secret.MAC(MACKey, key). A forged or truncated value therefore fails the
// constant-time MAC check before any store read. The ID token "sid" claim is
// PublicID(key), a one-way derivative, so the cookie value never appears in
// tokens.
//
// Lifetimes follow Connect2id: a session ends at the earlier of max life
// (since creation) and max idle (since last use); auth life, when exceeded,
// forces re-authentication without ending the session. Negative lifetimes
// mean unlimited.
//
// This package must not import net/http, database/sql or any store backend;
// time comes from the injected clock.
package session
