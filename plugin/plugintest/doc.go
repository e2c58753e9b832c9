// Package plugintest holds the contract suites that every implementation of
// a plugin SPI runs, in-process and behind the web-hook adapter alike, so
// that the two behave the same by construction (docs/architecture.md).
//
// It imports only the standard library, testing helpers (go-cmp), package oauth and
// package plugin; it must not import any plug-in implementation.
package plugintest
