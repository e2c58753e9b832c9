// Package browser proves the README's quick start in a real browser: it
// runs the keyward binary as `keyward serve --demo` on a loopback port and
// drives Debian's headless Chromium (through chromedp and the DevTools
// protocol) from the demo client's page, through the reference login and
// consent pages, to the demo callback showing the verified ID token and the
// UserInfo answer, and then signs in again to see single sign-on with the
// remembered consent skip both forms. A second test reloads the consent
// page (POST-redirect-GET must make that safe) and denies, expecting the
// demo client to show access_denied.
//
// The test needs /usr/bin/chromium (or KEYWARD_TEST_CHROMIUM). Without it
// the test is skipped, unless CI or KEYWARD_TEST_REQUIRE_BACKENDS is set,
// in which case it fails: a CI run must not pass by silently not running.
//
// It talks to the server only as a browser does, over HTTP, so it must not
// import any Keyward package.
package browser
