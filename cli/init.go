package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/node"
)

// runInit is `keyward init`: it creates what `serve` would create on
// first start — the data directory, the schema (or migrates it), the
// master key when none is configured and the store holds no keys, and the
// signing keys — and exits. The administrative commands need it (or a
// first `serve`) before they work on a store.
func runInit(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cf := newConfigFlags("init", stderr, storeStringFlags, nil)
	if err := cf.fs.Parse(args); err != nil {
		return err
	}
	if cf.fs.NArg() > 0 {
		return fmt.Errorf("init: unexpected argument %q", cf.fs.Arg(0))
	}
	cfg, err := cf.load(environ, storeStringFlags, nil)
	if err != nil {
		return err
	}
	n, err := node.Open(ctx, cfg, newLogger(stderr, cfg.Log.Level), time.Now)
	if err != nil {
		return err
	}
	defer n.Close()
	fmt.Fprintf(stdout, "initialised %s: schema current, %d key(s) (signing and encryption)\n", redactStoreURL(cfg.StoreURL()), len(n.Keys.Keys()))
	return nil
}

// redactStoreURL drops the password of a store URL: it may be printed.
func redactStoreURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the store"
	}
	return u.Redacted()
}
