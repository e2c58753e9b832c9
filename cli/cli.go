package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/plugin"
)

// Options make one build of the keyward command line: what a downstream
// main adds to it.
type Options struct {
	// Plugins are the plug-in factories the build adds, by type name; the
	// configuration selects them like the built-in ones (see
	// server.Options.Plugins).
	Plugins plugin.Factories
	// Version is what `version` prints first; default: the main module's
	// version from the build information, or "(devel)". The VCS revision
	// and time and the Go version follow it.
	Version string
}

// Main runs the command line on the process's arguments, environment and
// standard streams, ends on SIGINT or SIGTERM (serve then shuts down
// gracefully), and returns the exit status: 0 on success, 2 for a usage
// error, 1 otherwise. A main is os.Exit(cli.Main(opts)).
func Main(opts Options) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, opts, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		if len(os.Args) > 1 && os.Args[1] == "serve" {
			// serve's stderr is JSON lines only (docs/operator-guide.md,
			// "Logs"), its last one too.
			logExit(os.Stderr, err)
		} else {
			fmt.Fprintln(os.Stderr, "keyward:", err)
		}
		return 1
	}
}

// logExit writes the error that ends serve as a JSON line; a configuration
// error lists its problems one per array element.
func logExit(w io.Writer, err error) {
	attrs := []any{"error", err.Error()}
	var p *config.Problems
	if errors.As(err, &p) {
		problems := make([]string, len(p.List))
		for i, e := range p.List {
			problems[i] = e.Error()
		}
		attrs = []any{"error", "configuration problems", "problems", problems}
	}
	newLogger(w, "info").Error("keyward serve stopped", attrs...)
}

const usage = `usage: keyward <command> [flags]

commands:
  serve                          run the server (creates schema and keys on first start)
  init                           create or migrate the schema and create the keys, then exit
  client create|list|get|delete  manage registered clients
  keys list|rotate               list or rotate the signing keys
  hash-password                  read a password on stdin, print its argon2id hash
  config check FILE              validate a config file, listing every problem with its key
  bench [scenario ...]           load a running server and report its throughput (docs/performance.md)
  version                        print the version

Run "keyward <command> -h" for the flags of a command.
`

// Run is Main without the process: arguments (without the program name),
// environment ("KEY=value" strings) and streams are passed in, so that
// tests drive every command. A usage error wraps flag.ErrHelp.
func Run(ctx context.Context, opts Options, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, opts, args[1:], environ, stdout, stderr)
	case "client":
		return runClient(ctx, args[1:], environ, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], environ, stdout, stderr)
	case "hash-password":
		return runHashPassword(stdin, stdout)
	case "config":
		return runConfig(args[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, args[1:], environ, stdout, stderr)
	case "init":
		return runInit(ctx, args[1:], environ, stdout, stderr)
	case "version":
		printVersion(stdout, opts)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func (o Options) version() string {
	if o.Version != "" {
		return o.Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "(devel)"
}
