// Package authz implements the authorisation session API (docs/api.md §3;
// Connect2id's original is
// https://connect2id.com/products/server/docs/integration/authz-session):
// it parses and validates an OAuth 2.0 / OpenID Connect authorisation
// request on behalf of a login UI, decides which prompt the UI must show
// (authentication, consent, none), records the UI's submissions, and issues
// the final response with an authorisation code (RFC 6749 §4.1.2) or an
// error (§4.1.2.1), always with "iss" (RFC 9207). It also accepts pushed
// authorisation requests (RFC 9126).
//
// # Pipeline
//
// Start runs the named steps of pipeline.go in order. Until "redirect_uri"
// succeeds, a failure is a non-redirectable type:"error" message (the
// redirect URI is not trusted yet); afterwards failures are type:"response"
// messages delivering the error to the client's redirect URI:
//
//	client_id → client → pushed_request → request_object → redirect_uri │
//	duplicates → par_required → response_type → response_mode → scope →
//	pkce → nonce → state → prompt → max_age → display → hints → claims →
//	purpose → id_token_hint
//
// request_object (RFC 9101) replaces the parameters with those of the
// verified request object, passed by value or fetched from a registered
// request_uri, so every later step, the stored request and the prompts see
// only those. Responses in the JWT modes (JARM) are signed (jarm.go).
//
// Then the prompt policy (prompt.go) runs its named checks: login/* checks
// decide whether the subject session from the UI's cookie is eligible for
// single sign-on (docs/api.md §4, §5); consent/* checks decide whether a
// long-lived authorisation already covers the request.
//
// # State machine
//
// Each authorisation session is persisted with a TTL (Config.SessionLifetime;
// an expired or unknown sid is store.ErrNotFound, HTTP 404) and moves only
// along these edges; any other submission is invalid_request (HTTP 400):
//
//	     Start
//	       │ (no SSO)                  (SSO, consent needed)
//	       ▼                                   │
//	┌─AuthPending──PUT {sub…}──────────▶ ConsentPending
//	│      │                                   │
//	│      │ PUT {sub…}, consent covered       │ PUT {scope…}
//	│      ▼                                   ▼
//	│    Done ◀────────────────────────────── Done
//	│
//	└──DELETE / redirected error (from either pending state)──▶ Failed
//
// Done and Failed are final, and to the API the session is then gone, as
// in Connect2id: GET, DELETE and /data answer 404. The final message is
// kept (sealed, because it carries the code) so that a re-submission of
// the decision that reached it (the same decoded value, however the JSON
// was laid out) within DoubleSubmitWindow returns the same message — a
// double-clicked button; any other submission, or a later one, is 404.
// When Start itself reaches a final message (SSO with covered consent,
// prompt=none errors, redirected request errors) no session is stored.
//
// This package must not import net/http, database/sql, any store backend or
// plug-in implementation; time comes only from Service.Now.
package authz
