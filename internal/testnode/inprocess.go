package testnode

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// Node is one in-process Keyward node serving on a loopback listener.
type Node struct {
	// Issuer is the listener's URL, which is also the node's issuer, so
	// discovery and every endpoint it names are real.
	Issuer string
	Server *server.Server
	// Config is the configuration the node runs with, for tests that open
	// its stores another way (the command line, say).
	Config config.Config
}

// Start starts a node with demo users in dev mode, a fresh data directory
// and a SQLite store in it; configure adjusts the configuration before it is
// validated. Unless opts.Log is set, the node logs warnings and errors to
// the test's output. The node and its listener close when the test ends.
func Start(t testing.TB, opts server.Options, configure ...func(*config.Config)) *Node {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	cfg := config.Default()
	cfg.Issuer = issuer
	cfg.Listen = ts.Listener.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.Demo = true
	cfg.Dev = true
	for _, c := range configure {
		c(&cfg)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		ts.Listener.Close()
		t.Fatalf("config: %v", errs)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := server.New(t.Context(), cfg, opts)
	if err != nil {
		ts.Listener.Close()
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(ts.Close)
	return &Node{Issuer: issuer, Server: srv, Config: cfg}
}
