package postgres

import (
	"context"
	"time"
)

// SetReconnectWait replaces the notifier's sleep between reconnects, so
// that a test can see the back-off; call it before the first Subscribe.
func SetReconnectWait(db *Store, wait func(ctx context.Context, d time.Duration) error) {
	db.notifier.wait = wait
}

// MinReconnectDelay is the notifier's first reconnect delay.
const MinReconnectDelay = minBackoff
