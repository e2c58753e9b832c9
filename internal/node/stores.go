package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/redis"
	"github.com/keyward/keyward/store/sqlite"
)

// Stores are the opened backends of a node.
type Stores struct {
	Durable   store.Durable
	Ephemeral store.Ephemeral
	closers   []func() error
}

// Close closes every backend.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	return errors.Join(errs...)
}

// OpenStores opens the durable store the configuration names (SQLite or
// PostgreSQL) and, when Redis is configured, puts the ephemeral objects
// there.
func OpenStores(ctx context.Context, cfg config.Config, log *slog.Logger) (*Stores, error) {
	return openStores(ctx, cfg, log, storeMode{})
}

// storeMode says how openStores treats the durable store's schema.
type storeMode struct {
	// existing: only a current schema, never creating or migrating one
	// (store.ErrNoSchema otherwise).
	existing bool
	// keyCheck, when migrating, sees a stored signing key first and can
	// stop the migration (store.KeyCheck).
	keyCheck store.KeyCheck
}

// openStores opens the stores as mode says.
func openStores(ctx context.Context, cfg config.Config, log *slog.Logger, mode storeMode) (*Stores, error) {
	existing := mode.existing
	s := &Stores{}
	if !existing {
		// The data directory holds master.key, api-token and, by
		// default, the database: owner only (docs/configuration.md).
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
	}
	var liteOpts []sqlite.Option
	var pgOpts []postgres.Option
	if existing {
		liteOpts = append(liteOpts, sqlite.WithoutMigrations())
		pgOpts = append(pgOpts, postgres.WithoutMigrations())
	}
	if mode.keyCheck != nil {
		liteOpts = append(liteOpts, sqlite.WithKeyCheck(mode.keyCheck))
		pgOpts = append(pgOpts, postgres.WithKeyCheck(mode.keyCheck))
	}
	u := cfg.StoreURL()
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		db, err := sqlite.Open(ctx, strings.TrimPrefix(u, "sqlite://"), append(liteOpts, sqlite.WithLogger(log))...)
		if err != nil {
			return nil, fmt.Errorf("open sqlite store: %w", err)
		}
		s.closers = append(s.closers, db.Close)
		s.Durable, s.Ephemeral = db.Durable(), db.Ephemeral()
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		db, err := postgres.Open(ctx, u, append(pgOpts, postgres.WithLogger(log))...)
		if err != nil {
			return nil, fmt.Errorf("open postgres store: %w", err)
		}
		s.closers = append(s.closers, db.Close)
		s.Durable, s.Ephemeral = db.Durable(), db.Ephemeral()
	default:
		return nil, fmt.Errorf("unsupported store URL %q", u)
	}
	if cfg.Redis != "" {
		rs, err := redis.Open(ctx, cfg.Redis, redis.WithPrefix(cfg.Cluster.RedisPrefix), redis.WithLogger(log),
			redis.WithExpiryGrace(cfg.Cluster.PurgeMargin))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open redis store: %w", err)
		}
		s.closers = append(s.closers, rs.Close)
		s.Ephemeral = rs.Ephemeral()
		if s.Durable.Notifier == nil {
			s.Durable.Notifier = rs.Notifier()
		}
	}
	return s, nil
}
