// Package testnode starts Keyward nodes for end-to-end tests, the two ways
// the suites need them:
//
//   - Start runs a node in-process on an httptest listener, with demo users
//     and dev mode, its issuer the listener's URL;
//   - Build compiles the keyward command once (from a TestMain), and
//     StartProcess runs it as a child process whose logs the test can read
//     and which is stopped when the test ends.
//
// How a suite learns that a node is ready differs (a chosen port, or the
// address in the node's "listening" log line) and stays with the suite.
//
// It is for tests only: import it from _test.go files, never from a package
// that ships in the server.
package testnode
