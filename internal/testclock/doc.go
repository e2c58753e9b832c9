// Package testclock provides the settable clock that tests inject wherever
// Keyward takes a func() time.Time (server.Options.Now, the services' Now
// fields), so that lifetimes and expiry are tested by moving time, never by
// sleeping.
//
// It is for tests only: import it from _test.go files, never from a package
// that ships in the server.
package testclock
