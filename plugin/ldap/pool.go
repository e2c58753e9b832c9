package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// errClosed is returned after Close.
var errClosed = errors.New("ldap source is closed")

// pool holds up to size connections bound as the service account. A
// connection that failed in a way that leaves its state unknown (network
// error, timeout, cancelled context) is closed rather than reused.
type pool struct {
	p    *parsed
	sem  chan struct{}
	mu   sync.Mutex
	idle []*ldap.Conn
	done bool
}

func newPool(p *parsed) *pool {
	return &pool{p: p, sem: make(chan struct{}, p.cfg.PoolSize)}
}

// opTimeout is the time an operation may take: the configured timeout, or
// less when the context's deadline is nearer.
func (pl *pool) opTimeout(ctx context.Context) time.Duration {
	d := pl.p.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(dl))
	}
	return max(d, time.Millisecond)
}

// ended is ctx.Err(), or DeadlineExceeded once the deadline has passed:
// the operation timeout, set to the deadline, may fire a moment before the
// context notices.
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// dial opens a connection, upgrades it with StartTLS when configured and
// binds as the service account.
func (pl *pool) dial(ctx context.Context) (*ldap.Conn, error) {
	timeout := pl.opTimeout(ctx)
	dialer := &net.Dialer{Timeout: timeout}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if pl.p.tlsConfig != nil {
		opts = append(opts, ldap.DialWithTLSConfig(pl.p.tlsConfig.Clone()))
	}
	c, err := ldap.DialURL(pl.p.cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	c.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if pl.p.cfg.StartTLS {
		err = c.StartTLS(pl.p.tlsConfig.Clone())
		if err != nil {
			err = fmt.Errorf("start_tls: %w", err)
		}
	}
	if err == nil {
		err = pl.bindService(c)
	}
	if ctxErr := ended(ctx); ctxErr != nil {
		// The context ended the dial (AfterFunc closed the connection):
		// say so, rather than the network error it caused.
		c.Close()
		return nil, fmt.Errorf("%w (%v)", ctxErr, err)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// bindService binds c as the service account; the error never holds the
// password.
func (pl *pool) bindService(c *ldap.Conn) error {
	if err := c.Bind(pl.p.cfg.BindDN, pl.p.password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return fmt.Errorf("bind as %s: the directory refused bind_dn and its password", pl.p.cfg.BindDN)
		}
		return fmt.Errorf("bind as %s: %w", pl.p.cfg.BindDN, err)
	}
	return nil
}

// get takes an idle connection or dials one, waiting for a free slot
// within ctx. fresh reports a new connection.
func (pl *pool) get(ctx context.Context) (c *ldap.Conn, fresh bool, err error) {
	select {
	case pl.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("wait for a connection (pool_size %d): %w", cap(pl.sem), ctx.Err())
	}
	pl.mu.Lock()
	if pl.done {
		pl.mu.Unlock()
		<-pl.sem
		return nil, false, errClosed
	}
	for len(pl.idle) > 0 {
		c = pl.idle[len(pl.idle)-1]
		pl.idle = pl.idle[:len(pl.idle)-1]
		if !c.IsClosing() {
			pl.mu.Unlock()
			return c, false, nil
		}
		c.Close()
	}
	pl.mu.Unlock()
	c, err = pl.dial(ctx)
	if err != nil {
		<-pl.sem
		return nil, false, err
	}
	return c, true, nil
}

// put returns c to the pool, or closes it when it may not be reused.
func (pl *pool) put(c *ldap.Conn, reuse bool) {
	pl.mu.Lock()
	if reuse && !pl.done && !c.IsClosing() {
		pl.idle = append(pl.idle, c)
		c = nil
	}
	pl.mu.Unlock()
	if c != nil {
		c.Close()
	}
	<-pl.sem
}

// do runs fn on a pooled connection within the timeout and ctx. A
// connection that fails with a network error without having waited out
// the timeout (typically an idle connection the directory dropped when it
// restarted) is replaced by a fresh one and fn runs once more.
func (pl *pool) do(ctx context.Context, fn func(c *ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, fresh, err := pl.get(ctx)
		if err != nil {
			return err
		}
		timeout := pl.opTimeout(ctx)
		c.SetTimeout(timeout)
		start := time.Now()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		err = fn(c)
		interrupted := !stop()
		broken := err != nil && broken(err)
		pl.put(c, !interrupted && !broken)
		switch {
		case err == nil:
			return nil
		case interrupted || ended(ctx) != nil:
			return fmt.Errorf("%w (%v)", ended(ctx), err)
		case broken && !fresh && attempt == 0 && time.Since(start) < timeout:
			continue
		}
		return err
	}
}

// broken reports whether err leaves the connection in an unknown state:
// go-ldap's own codes (network, timeouts, decoding) start at 200; results
// the directory sent (RFC 4511 §4.1.9) are below.
func broken(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode >= ldap.ErrorNetwork
}

// close closes the idle connections; connections in use are closed when
// they are returned.
func (pl *pool) close() {
	pl.mu.Lock()
	idle := pl.idle
	pl.idle, pl.done = nil, true
	pl.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}
