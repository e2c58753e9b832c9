package server

import (
	"context"
	"sync"

	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/node"
)

// startBackground starts the node's housekeeping: signing-key refresh
// (periodic, and at once on a change notice from another node), client
// cache invalidation on notice, revocation journal refresh (on notice, and
// every token.DefaultJournalRefresh), and bounded purges of expired records.
func (s *Server) startBackground(ctx context.Context, wg *sync.WaitGroup) {
	n := s.stores.Durable.Notifier
	var keyChanges, revocations <-chan string
	if n != nil {
		var err error
		if keyChanges, err = n.Subscribe(ctx, node.TopicKeys); err != nil {
			s.log.Warn("subscribe to key changes; falling back to periodic refresh", "error", err.Error())
		}
		clientChanges, err := n.Subscribe(ctx, node.TopicClients)
		if err != nil {
			s.log.Warn("subscribe to client changes; falling back to the cache TTL", "error", err.Error())
		} else {
			wg.Go(func() {
				for id := range clientChanges {
					s.clients.Invalidate(id)
				}
			})
		}
		if revocations, err = n.Subscribe(ctx, node.TopicRevocations); err != nil {
			s.log.Warn("subscribe to revocations; falling back to periodic journal refresh", "error", err.Error())
		}
	}
	wg.Go(func() { s.keys.Run(ctx, s.cfg.Keys.RefreshInterval, keyChanges) })
	wg.Go(func() { s.journal.Run(ctx, token.DefaultJournalRefresh, revocations) })
	wg.Go(func() { s.purgeLoop(ctx) })
}
