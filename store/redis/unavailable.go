package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
)

// Socket time limits applied when the URL sets none (go-redis reads
// dial_timeout, read_timeout and write_timeout from the query string). A
// stopped Redis accepts TCP connections into the kernel's backlog and then
// never answers: only these limits and the request's deadline
// (ContextTimeoutEnabled) keep it from holding requests.
const (
	defaultDialTimeout = 2 * time.Second
	defaultIOTimeout   = 2 * time.Second
)

func applyTimeouts(o *goredis.Options) {
	if o.DialTimeout == 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = defaultIOTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = defaultIOTimeout
	}
	o.ContextTimeoutEnabled = true
}

// unavailableHook marks the errors of commands that could not reach Redis
// with store.ErrUnavailable, so that the HTTP layer answers 503 rather
// than 500 (store.IsUnavailable). Replies from a live server (redis.Nil,
// WRONGTYPE, a failed WATCH) are left alone; LOADING, MASTERDOWN and
// the like, which a live server sends while it cannot serve, are marked.
type unavailableHook struct{}

func (unavailableHook) DialHook(next goredis.DialHook) goredis.DialHook {
	// A failed dial surfaces as the command's error, marked there; the
	// pool's own retry logic sees it unchanged.
	return next
}

func (unavailableHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && unreachable(err) {
			cmd.SetErr(fmt.Errorf("%w: %w", store.ErrUnavailable, err))
			return cmd.Err()
		}
		return err
	}
}

func (unavailableHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if e := cmd.Err(); e != nil && unreachable(e) {
				cmd.SetErr(fmt.Errorf("%w: %w", store.ErrUnavailable, e))
			}
		}
		if err != nil && unreachable(err) {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
}

// unreachable reports whether err from go-redis means Redis could not
// serve the command, as opposed to an answer.
func unreachable(err error) bool {
	if errors.Is(err, store.ErrUnavailable) {
		return false // already marked
	}
	if errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrPoolExhausted) {
		return true
	}
	var re goredis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, p := range []string{"LOADING", "MASTERDOWN", "TRYAGAIN", "BUSY ", "CLUSTERDOWN"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	return store.IsUnavailable(err)
}
