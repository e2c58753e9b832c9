// Package node opens what every Keyward process working on a deployment's
// data needs, whether it serves HTTP or not: the master key and the keys
// derived from it, the stores the configuration names, the signing keys and
// the client registry. Package server builds a running node on top of it;
// package cli uses it for the administrative commands (client management,
// key rotation) without starting a server. Open creates what is missing
// (schema, master key, signing keys) and is for serve and init only;
// OpenExisting, for the administrative commands, creates nothing.
//
// It is the one place that knows the concrete store backends besides the
// tests; it must not import net/http handlers or the login UI.
package node
