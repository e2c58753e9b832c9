package redis

import (
	"context"
	"fmt"
)

// notifier implements store.Notifier with Redis pub/sub. go-redis
// re-subscribes after a lost connection; notices published meanwhile are
// lost, which the best-effort contract allows.
type notifier struct{ s *Store }

func (n notifier) channel(topic string) string { return n.s.prefix + "notify:" + topic }

func (n notifier) Publish(ctx context.Context, topic, payload string) error {
	if err := n.s.rdb.Publish(ctx, n.channel(topic), payload).Err(); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// Subscribe returns once Redis has confirmed the subscription, so a publish
// after it returns is delivered. A slow reader loses notices rather than
// stalling the connection.
func (n notifier) Subscribe(ctx context.Context, topic string) (<-chan string, error) {
	ps := n.s.rdb.Subscribe(ctx, n.channel(topic))
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	in := ps.Channel()
	out := make(chan string, 64)
	go func() {
		defer close(out)
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- msg.Payload:
				default:
					n.s.log.Warn("redis notifier: subscriber too slow, notice dropped", "topic", topic)
				}
			}
		}
	}()
	return out, nil
}
