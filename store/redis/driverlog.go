package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis logs connection-pool and pub/sub trouble through one
// process-wide logger that writes plain text to stderr. Open replaces it,
// once, with driverLog, which forwards to the logger of the most recently
// opened store: every line on stderr stays JSON (docs/operator-guide.md,
// "Logs"). Doing it in Open rather than in an init function keeps
// importing the package free of side effects.
var (
	driverLogOnce sync.Once
	driverLogTo   atomic.Pointer[slog.Logger]
)

type driverLog struct{}

func (driverLog) Printf(ctx context.Context, format string, v ...any) {
	log := driverLogTo.Load()
	if log == nil {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	log.WarnContext(ctx, "redis driver: "+strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}

// routeDriverLog sends go-redis's own messages to log.
func routeDriverLog(log *slog.Logger) {
	driverLogTo.Store(log)
	driverLogOnce.Do(func() { goredis.SetLogger(driverLog{}) })
}
