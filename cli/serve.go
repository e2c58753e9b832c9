package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/keyward/keyward/server"
)

func runServe(ctx context.Context, opts Options, args, environ []string, stdout, stderr io.Writer) error {
	cf := newConfigFlags("serve", stderr, serveStringFlags, serveBoolFlags)
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	if cf.fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", cf.fs.Arg(0))
	}
	cfg, err := cf.load(environ, serveStringFlags, serveBoolFlags)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level)
	srv, err := server.New(ctx, cfg, server.Options{Log: log, Stdout: stdout, Plugins: opts.Plugins})
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// newLogger writes JSON lines to stderr (docs/operator-guide.md).
func newLogger(w io.Writer, level string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
}
