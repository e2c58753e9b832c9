// Package logout ends subject sessions and tells the relying parties:
// the logout session API behind a logout page (docs/api.md §16;
// Connect2id's https://connect2id.com/products/server/docs/integration/logout-session),
// OpenID Connect RP-Initiated Logout 1.0 (id_token_hint, client_id,
// post_logout_redirect_uri, state), Back-Channel Logout 1.0 (the signed
// logout token of §2.4, handed to a BackChannel the server supplies) and
// Front-Channel Logout 1.0 (the iframe URIs of §2 for the page to load),
// and the revocation of what a session produced (logout.revoke_tokens).
//
// Every session removal goes through session.Service, whose Ended hook
// calls SessionEnded once per removed session, on the node that removed it:
// the store hands a removed session to exactly one caller, so a session is
// notified once across a cluster however many nodes try to end it.
//
// A pending logout (the "confirm" answer) keeps no server state: its ID is
// the sealed logout request, and its single use is marked in the replay
// cache. This package must not import net/http, database/sql or any store
// backend.
package logout
