// Package testkeys provides the signing-key fixture that the protocol core's
// tests and the HTTP layer's tests share: one real jose.KeyManager over an
// in-memory key store.
//
// It is for tests only: import it from _test.go files, never from a package
// that ships in the server.
package testkeys
