package cli

import (
	"flag"
	"fmt"
	"io"

	"github.com/keyward/keyward/config"
)

// runConfig is `keyward config check FILE`: it validates a config file on
// top of the defaults — without the environment, so that the answer is
// about the file, whatever the checking machine's KEYWARD_* variables — and
// prints every problem, one per line, each starting with its key.
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, "usage: keyward config check FILE\n")
		return fmt.Errorf("config: %w", flag.ErrHelp)
	}
	fs := flag.NewFlagSet("keyward config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, "usage: keyward config check FILE\n") }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("config check: %w", flag.ErrHelp)
	}
	file := fs.Arg(0)
	problems := config.Check(config.Sources{File: file})
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "%s: ok\n", file)
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %v\n", file, p)
	}
	return fmt.Errorf("config check: %s: %d problem(s)", file, len(problems))
}
