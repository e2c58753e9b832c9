// Package conformance re-implements the OpenID Foundation's OP conformance
// modules (Basic, Config, the applicable Dynamic modules, and the response-type
// dependent modules of the Implicit and Hybrid plans; README.md) as black-box Go
// tests against a real Keyward node on an httptest listener. Logins are
// driven through the authorisation session API, as a login UI would, or
// through the reference login UI with a cookie jar where the module is about
// the browser-facing endpoint; every successful flow runs the suite's
// standard checks (checkStandardFlow). The suite's source, with every
// module and check, is https://gitlab.com/openid/conformance-suite.
//
// Each test is named after its module. The package has only tests; it must
// not import internal/core, internal/httpapi, store backends or plug-ins:
// it sees Keyward the way a relying party and a login UI do, plus what an
// operator has (server, config, key rotation, the clock option).
// It borrows internal/secret only for random state and nonce values.
package conformance
