// Package embed tests examples/embed, the downstream build that adds a Go
// claims source to the keyward command line: it builds the example as its
// own module, as a user outside this repository would, runs it on the
// example's config file and drives an authorisation-code flow against it
// with real relying-party libraries.
package embed
