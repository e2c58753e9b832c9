// Package nodeclient runs Node's openid-client (v6, pinned exactly in
// package.json and package-lock.json here, installed with `npm ci`) as an
// independent relying party against an in-process Keyward node: discovery;
// the authorisation code flow with PKCE, state, nonce, a strict RFC 9207
// iss check and ID token validation with signatures; UserInfo; refresh;
// introspection; revocation; client credentials. The go-oidc tests in
// test/e2e stay beside it: two client libraries written apart are less
// likely to share a mistake with the server.
//
// The script rp.mjs prints one JSON line per step; the Go test drives the
// sign-in through the authorisation session API (docs/api.md §3) when the
// script prints the authorisation URL, hands back the callback URL on the
// script's stdin, and asserts every step.
//
// Without node and npm the test is skipped, unless CI or
// KEYWARD_TEST_REQUIRE_BACKENDS is set, in which case it fails. npm ci
// needs the npm registry (or a cache); node_modules is not committed.
package nodeclient
