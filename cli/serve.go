package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keyward/keyward/config"
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
	level := new(slog.LevelVar)
	level.Set(parseLevel(cfg.Log.Level))
	log := newLevelLogger(stderr, level)

	// SIGTERM and SIGINT drain (server.Run); SIGHUP reloads. Registered
	// here as well as in Main, so that serve run through Run by a
	// downstream main or a test behaves the same.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	srv, err := server.New(ctx, cfg, server.Options{Log: log, Stdout: stdout, Plugins: opts.Plugins})
	if err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reload(cf, environ, cfg, srv, level, log)
			}
		}
	}()
	return srv.Run(ctx)
}

// reload applies SIGHUP: the users file and log.level, read again from the
// same file, environment and flags; nothing else changes until a restart,
// and the log says which other settings differ.
func reload(cf *configFlags, environ []string, running config.Config, srv *server.Server, level *slog.LevelVar, log *slog.Logger) {
	log.Info("SIGHUP: reloading the users file and log.level")
	next, err := cf.load(environ, serveStringFlags, serveBoolFlags)
	if err != nil {
		log.Error("SIGHUP: configuration not reloaded", "error", err.Error())
		return
	}
	if next.Log.Level != running.Log.Level && parseLevel(next.Log.Level) != level.Level() {
		old := level.Level()
		level.Set(parseLevel(next.Log.Level))
		log.Warn("SIGHUP: log.level changed", "from", old.String(), "to", level.Level().String())
	}
	if next.Users != running.Users {
		log.Warn("SIGHUP: the users setting changed; it applies after a restart (the file named at start is reloaded)",
			"running", running.Users, "configured", next.Users)
	}
	srv.ReloadUsers()
	if changed := config.Changed(running, next, "users", "log.level"); len(changed) > 0 {
		log.Warn("SIGHUP: these settings changed and apply only after a restart", "keys", changed)
	}
}

// newLogger writes JSON lines to stderr (docs/operator-guide.md).
func newLogger(w io.Writer, level string) *slog.Logger {
	lv := new(slog.LevelVar)
	lv.Set(parseLevel(level))
	return newLevelLogger(w, lv)
}

// newLevelLogger writes JSON lines at a level that SIGHUP can change.
// Durations are written as "<key>_seconds" floats, never as the
// nanosecond integers slog's JSON handler would print.
func newLevelLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationSeconds}))
}

func durationSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}

func parseLevel(s string) slog.Level {
	var lv slog.Level
	lv.UnmarshalText([]byte(strings.ToUpper(s)))
	return lv
}
