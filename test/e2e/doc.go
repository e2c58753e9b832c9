// Package e2e holds Keyward's end-to-end tests: a real server (embedded
// store by default) on an httptest listener, driven by real relying-party
// libraries (coreos/go-oidc, x/oauth2) through the authorisation session API
// and through the reference login UI with a cookie jar.
package e2e
