package memstore

import (
	"context"
	"sync"
)

// subscriberBuffer bounds how many notices a slow subscriber may fall behind
// before further ones are dropped; delivery is best effort by contract.
const subscriberBuffer = 64

// Notifier is an in-process store.Notifier: Publish reaches every current
// subscriber of the topic in this process. It never blocks on a slow
// subscriber; a notice that does not fit its buffer is dropped.
type Notifier struct {
	mu   sync.Mutex
	subs map[string]map[chan string]struct{}
}

// NewNotifier returns a notifier with no subscribers.
func NewNotifier() *Notifier {
	return &Notifier{subs: map[string]map[chan string]struct{}{}}
}

// Publish delivers payload to the topic's subscribers.
func (n *Notifier) Publish(ctx context.Context, topic, payload string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs[topic] {
		select {
		case ch <- payload:
		default:
		}
	}
	return nil
}

// Subscribe returns a channel of the topic's payloads, closed once ctx ends.
func (n *Notifier) Subscribe(ctx context.Context, topic string) (<-chan string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan string, subscriberBuffer)
	n.mu.Lock()
	if n.subs[topic] == nil {
		n.subs[topic] = map[chan string]struct{}{}
	}
	n.subs[topic][ch] = struct{}{}
	n.mu.Unlock()
	go func() {
		<-ctx.Done()
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.subs[topic], ch)
		if len(n.subs[topic]) == 0 {
			delete(n.subs, topic)
		}
		close(ch)
	}()
	return ch, nil
}
