// Command keyward runs and administers the Keyward OpenID provider.
//
//	keyward serve [flags]                         run the server
//	keyward client create|list|get|delete ...     manage clients against the store
//	keyward keys list|rotate                      signing keys
//	keyward hash-password                         hash a password from stdin for the users file
//	keyward version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "keyward:", err)
		os.Exit(1)
	}
}

const usage = `usage: keyward <command> [flags]

commands:
  serve                          run the server
  client create|list|get|delete  manage registered clients
  keys list|rotate               list or rotate the signing keys
  hash-password                  read a password on stdin, print its argon2id hash
  version                        print the version

Run "keyward <command> -h" for the flags of a command.
`

// run is main without the process: arguments, environment and streams are
// passed in, so tests can drive every command.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], environ, stdout, stderr)
	case "client":
		return runClient(ctx, args[1:], environ, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], environ, stdout, stderr)
	case "hash-password":
		return runHashPassword(stdin, stdout)
	case "version":
		fmt.Fprintln(stdout, "keyward", version)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
