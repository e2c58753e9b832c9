package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/keyward/keyward/plugin"
)

// plugins runs the lifecycle of the configured plug-ins: Init in
// configuration order before the first request, Healthy for readiness,
// Close on shutdown in reverse order. Built-in and downstream plug-ins go
// through it alike.
type plugins struct {
	items []namedPlugin
}

type namedPlugin struct {
	name string // configuration path and type, e.g. "claims.sources[1] (webhook)"
	impl any
	// advisory plug-ins do not decide readiness: a claims source under
	// on_error: omit, whose outage the server rides out by leaving its
	// claims out. Were it to make every node unready at once (they share
	// the directory), the omit policy would become an outage. Its health
	// is still checked, and a change logged.
	advisory bool
	down     *atomic.Bool
}

func (ps *plugins) add(path, typ string, impl any) {
	ps.items = append(ps.items, namedPlugin{name: fmt.Sprintf("%s (%s)", path, typ), impl: impl})
}

// addAdvisory adds a plug-in whose health is logged but does not decide
// readiness.
func (ps *plugins) addAdvisory(path, typ string, impl any) {
	ps.items = append(ps.items, namedPlugin{name: fmt.Sprintf("%s (%s)", path, typ), impl: impl, advisory: true, down: new(atomic.Bool)})
}

// init calls Init on every plug-in that has it. When one fails, the ones
// already initialised are closed again, so that a failed start leaks
// nothing.
func (ps *plugins) init(ctx context.Context, log *slog.Logger, issuer string) error {
	for i, p := range ps.items {
		in, ok := p.impl.(plugin.Initializer)
		if !ok {
			continue
		}
		env := plugin.Env{Log: log.With("plugin", p.name), Issuer: issuer}
		if err := in.Init(ctx, env); err != nil {
			closeErr := closeAll(ps.items[:i])
			return errors.Join(fmt.Errorf("plug-in %s: init: %w", p.name, err), closeErr)
		}
	}
	return nil
}

// healthy reports the first plug-in that says it is not healthy; advisory
// plug-ins are checked too, but only logged, once per change.
func (ps *plugins) healthy(ctx context.Context, log *slog.Logger) error {
	for _, p := range ps.items {
		h, ok := p.impl.(plugin.HealthChecker)
		if !ok {
			continue
		}
		err := h.Healthy(ctx)
		if !p.advisory {
			if err != nil {
				return fmt.Errorf("plug-in %s: %w", p.name, err)
			}
			continue
		}
		if was := p.down.Swap(err != nil); was != (err != nil) {
			if err != nil {
				log.WarnContext(ctx, "claims source unhealthy; its claims are left out (on_error: omit)", "plugin", p.name, "err", err)
			} else {
				log.InfoContext(ctx, "claims source healthy again", "plugin", p.name)
			}
		}
	}
	return nil
}

// close closes every plug-in that holds resources, in reverse order.
func (ps *plugins) close() error { return closeAll(ps.items) }

func closeAll(items []namedPlugin) error {
	var errs []error
	for i := len(items) - 1; i >= 0; i-- {
		if c, ok := items[i].impl.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("plug-in %s: close: %w", items[i].name, err))
			}
		}
	}
	return errors.Join(errs...)
}
