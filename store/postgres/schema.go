package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/tracelog"

	"github.com/keyward/keyward/store"
)

// checkSchema fails with store.ErrNoSchema unless every migration this
// build embeds has been applied. It only reads.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if !exists {
		return fmt.Errorf("postgres: the database has no Keyward tables: %w", store.ErrNoSchema)
	}
	var current *int64
	if err := pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&current); err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	latest, err := latestMigration()
	if err != nil {
		return err
	}
	if current == nil || *current < latest {
		var have int64
		if current != nil {
			have = *current
		}
		return fmt.Errorf("postgres: schema version %d, this build needs %d: %w", have, latest, store.ErrNoSchema)
	}
	return nil
}

// latestMigration is the highest version among the embedded migration
// files (NNNNN_name.sql).
func latestMigration() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return 0, fmt.Errorf("postgres: migrations: %w", err)
	}
	var latest int64
	for _, e := range entries {
		num, _, _ := strings.Cut(path.Base(e.Name()), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("postgres: migration %s: %w", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// slogTracer routes pgx's own log messages through log, at debug level:
// pgx reports every failed statement as an error, including the unique
// violations the stores expect and map to store.ErrExists; the stores log
// what matters themselves. Warnings and errors only: query-level tracing
// would log every statement.
func slogTracer(log *slog.Logger) *tracelog.TraceLog {
	return &tracelog.TraceLog{
		LogLevel: tracelog.LogLevelWarn,
		Logger: tracelog.LoggerFunc(func(ctx context.Context, level tracelog.LogLevel, msg string, data map[string]any) {
			attrs := make([]any, 0, 2*len(data)+4)
			attrs = append(attrs, "component", "pgx", "pgx_level", level.String())
			for k, v := range data {
				// Arguments of a failed query may hold secrets.
				if k == "args" || k == "time" {
					continue
				}
				attrs = append(attrs, k, v)
			}
			if d, ok := data["time"].(time.Duration); ok {
				attrs = append(attrs, "time_seconds", d.Seconds())
			}
			log.Log(ctx, slog.LevelDebug, "postgres: "+msg, attrs...)
		}),
	}
}
