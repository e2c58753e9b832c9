// Package loginui is Keyward's reference login and consent UI: the page a
// customer would otherwise write themselves. It is served at the advertised
// authorization_endpoint (BasePath, "/login" by default) and drives the
// authorisation session API (/authz-sessions/rest/v3, docs/api.md §3)
// over HTTP + JSON with a bearer token, exactly as a remote UI would; in one
// process the server may hand it an http.Client with an in-memory transport,
// but the wire format does not change.
//
// Flow (docs/api.md §3):
//
//	GET  BasePath?<authz request>      → POST {query, sub_sid}            → auth | consent | response | error
//	POST BasePath/authenticate         → PUT /{sid} {sub, amr}            → 303 GET BasePath/prompt | redirect | form_post
//	GET  BasePath/prompt?p=<state>     → renders the pending prompt (no API call; PRG target)
//	POST BasePath/consent (allow)      → PUT /{sid} {scope, claims, long_lived, refresh_token}
//	POST BasePath/consent (deny),
//	POST BasePath/cancel               → DELETE /{sid}                    → response with access_denied
//
// The API offers no idempotent way to re-read a pending prompt, so the UI
// carries it itself: every prompt is sealed (AES-GCM, key derived from the
// API token so that all nodes behind one load balancer agree) into an opaque
// state value bound to a per-browser cookie. It travels in the form's hidden
// fields and in the PRG redirect URL, which makes refresh and the back button
// safe without any server-side UI state. A per-form CSRF token (HMAC of the
// authz session id and the browser cookie, compared in constant time) and
// http.CrossOriginProtection guard every state-changing POST.
//
// Must not import: server, internal/httpapi, internal/core/*, store/*,
// plugin/* implementations. It may use package oauth (vocabulary only) and
// internal/secret (sealing, MACs, constant-time comparison).
package loginui
