package node

import (
	"context"
	"log/slog"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/memstore"
	"github.com/keyward/keyward/store/postgres"
	"github.com/keyward/keyward/store/redis"
	"github.com/keyward/keyward/store/sqlite"
)

// Every backend has one shape: Open(ctx, [where,] options…) returning
// *Store, Close() error, and the aggregates it serves. A backend that
// drifts from it fails to compile here.
var (
	_ func(context.Context, ...memstore.Option) (*memstore.Store, error)         = memstore.Open
	_ func(context.Context, string, ...sqlite.Option) (*sqlite.Store, error)     = sqlite.Open
	_ func(context.Context, string, ...postgres.Option) (*postgres.Store, error) = postgres.Open
	_ func(context.Context, string, ...redis.Option) (*redis.Store, error)       = redis.Open

	_ durableBackend   = (*memstore.Store)(nil)
	_ durableBackend   = (*sqlite.Store)(nil)
	_ durableBackend   = (*postgres.Store)(nil)
	_ ephemeralBackend = (*redis.Store)(nil)

	_ func(*slog.Logger) memstore.Option = memstore.WithLogger
	_ func(*slog.Logger) sqlite.Option   = sqlite.WithLogger
	_ func(*slog.Logger) postgres.Option = postgres.WithLogger
	_ func(*slog.Logger) redis.Option    = redis.WithLogger
)

type ephemeralBackend interface {
	Ephemeral() store.Ephemeral
	Close() error
}

type durableBackend interface {
	ephemeralBackend
	Durable() store.Durable
}
