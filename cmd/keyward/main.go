// Command keyward runs and administers the Keyward OpenID provider.
//
//	keyward serve [flags]                         run the server
//	keyward init [flags]                          create the schema and keys, then exit
//	keyward client create|list|get|delete ...     manage clients against the store
//	keyward keys list|rotate                      signing keys
//	keyward bench [flags] [scenario ...]         load a running server (docs/performance.md)
//	keyward hash-password                         hash a password from stdin for the users file
//	keyward version
//
// It is package cli with no plug-ins added; a downstream build that adds
// its own is a main of the same size (see examples/embed).
package main

import (
	"os"

	"github.com/keyward/keyward/cli"
)

func main() { os.Exit(cli.Main(cli.Options{})) }
