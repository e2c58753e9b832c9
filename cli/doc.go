// Package cli is the keyward command line: serve, client, keys,
// hash-password and version, with the flags, environment variables and
// config file of the run contract (see docs/configuration.md).
//
// It is public so that a downstream build is "the keyward command line
// plus my plug-ins" in one short main:
//
//	func main() {
//		os.Exit(cli.Main(cli.Options{Plugins: plugin.Factories{"colour": newColourSource}}))
//	}
//
// cmd/keyward is exactly that main with no plug-ins added; examples/embed
// is one with a claims source of its own.
package cli
