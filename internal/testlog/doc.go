// Package testlog captures what a server under test writes — its logs, its
// operator notices, a browser's output — so that a test can read it while
// the writers are still running.
//
// It is for tests only: import it from _test.go files, never from a package
// that ships in the server.
package testlog
