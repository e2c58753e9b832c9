package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// notifyChannel is the one LISTEN/NOTIFY channel Keyward uses; topics
// travel inside the payload so that any topic string is allowed (channel
// names are identifiers of at most 63 bytes).
const notifyChannel = "keyward_notices"

// maxNotifyPayload is below PostgreSQL's 8000-byte NOTIFY limit, leaving
// room for the envelope.
const maxNotifyPayload = 7000

// readyWait bounds how long Subscribe waits for the first LISTEN.
const readyWait = 10 * time.Second

// Reconnect back-off of the LISTEN connection: it starts at minBackoff
// after every connection that reached LISTEN, and doubles up to maxBackoff
// only while attempts keep failing.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

type notice struct {
	Topic   string `json:"t"`
	Payload string `json:"p"`
}

// Notifier implements store.Notifier over LISTEN/NOTIFY. It holds one
// dedicated connection (outside the pool) that it opens on the first
// Subscribe and reopens after a failure; notices sent while it is
// reconnecting are lost, which the best-effort contract allows.
type Notifier struct {
	pool *pgxpool.Pool
	log  loggerish

	mu      sync.Mutex
	subs    map[string]map[chan string]struct{}
	started bool
	ready   chan struct{} // closed once the first LISTEN succeeded
	stop    context.CancelFunc
	done    chan struct{}

	// wait sleeps d before a reconnect, or returns ctx's error; tests
	// replace it to observe the back-off.
	wait func(ctx context.Context, d time.Duration) error
}

// loggerish keeps notifier.go independent of how the logger is built.
type loggerish interface {
	Warn(msg string, args ...any)
}

func newNotifier(pool *pgxpool.Pool, log loggerish) *Notifier {
	return &Notifier{pool: pool, log: log, subs: map[string]map[chan string]struct{}{}, ready: make(chan struct{}), wait: sleep}
}

// Publish sends payload to every subscriber of topic on every node,
// this one included. Payloads are limited to 7000 bytes.
func (n *Notifier) Publish(ctx context.Context, topic, payload string) error {
	b, err := json.Marshal(notice{Topic: topic, Payload: payload})
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	if len(b) > maxNotifyPayload {
		return fmt.Errorf("publish: notice of %d bytes exceeds %d", len(b), maxNotifyPayload)
	}
	if _, err := n.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, string(b)); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// Subscribe returns a channel of the payloads published on topic from the
// moment it returns until ctx ends, when the channel is closed. A slow
// reader loses notices rather than stalling the others.
func (n *Notifier) Subscribe(ctx context.Context, topic string) (<-chan string, error) {
	ch := make(chan string, 64)
	n.mu.Lock()
	if n.subs == nil {
		n.mu.Unlock()
		return nil, errors.New("subscribe: notifier closed")
	}
	if n.subs[topic] == nil {
		n.subs[topic] = map[chan string]struct{}{}
	}
	n.subs[topic][ch] = struct{}{}
	if !n.started {
		n.started = true
		lctx, cancel := context.WithCancel(context.Background())
		n.stop, n.done = cancel, make(chan struct{})
		go n.listen(lctx)
	}
	ready := n.ready
	n.mu.Unlock()

	go func() {
		<-ctx.Done()
		n.unsubscribe(topic, ch)
	}()
	// Wait until LISTEN is in force, so that a publish after Subscribe
	// returns is seen.
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("subscribe: %w", ctx.Err())
	case <-time.After(readyWait):
		// The listener keeps retrying; the subscription stays valid and
		// delivery is best effort anyway.
		n.log.Warn("notifier: LISTEN not yet established", "topic", topic)
	}
	return ch, nil
}

func (n *Notifier) unsubscribe(topic string, ch chan string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if set, ok := n.subs[topic]; ok {
		if _, ok := set[ch]; ok {
			delete(set, ch)
			close(ch)
		}
		if len(set) == 0 {
			delete(n.subs, topic)
		}
	}
}

func (n *Notifier) deliver(nt notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs[nt.Topic] {
		select {
		case ch <- nt.Payload:
		default:
			n.log.Warn("notifier: subscriber too slow, notice dropped", "topic", nt.Topic)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// listen keeps a LISTEN connection open until ctx ends, reconnecting with
// capped exponential back-off. The back-off starts afresh after every
// connection that reached LISTEN: a connection lost now and then must not
// leave the node deaf for the maximum delay (notices sent meanwhile are
// lost) because earlier losses had raised it.
func (n *Notifier) listen(ctx context.Context) {
	defer close(n.done)
	backoff := minBackoff
	for ctx.Err() == nil {
		listened, err := n.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = minBackoff
		}
		n.log.Warn("notifier: connection lost, reconnecting", "error", err, "in", backoff)
		if n.wait(ctx, backoff) != nil {
			return
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// listenOnce holds one LISTEN connection until it fails; listened reports
// whether it got as far as LISTEN.
func (n *Notifier) listenOnce(ctx context.Context) (listened bool, err error) {
	// A dedicated connection, not a pooled one: it stays in LISTEN for the
	// life of the notifier.
	conn, err := pgx.ConnectConfig(ctx, n.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return false, err
	}
	n.mu.Lock()
	select {
	case <-n.ready:
	default:
		close(n.ready)
	}
	n.mu.Unlock()
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		var nt notice
		if err := json.Unmarshal([]byte(msg.Payload), &nt); err != nil {
			n.log.Warn("notifier: malformed notice ignored", "error", err)
			continue
		}
		n.deliver(nt)
	}
}

// close stops the listener and closes every subscriber's channel.
func (n *Notifier) close() {
	n.mu.Lock()
	stop, done := n.stop, n.done
	for _, set := range n.subs {
		for ch := range set {
			close(ch)
		}
	}
	n.subs = nil
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
