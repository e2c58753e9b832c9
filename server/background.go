package server

import (
	"context"
	"sync"
)

// startBackground starts the node's housekeeping: signing-key refresh
// (periodic, and at once on a change notice from another node), client
// cache invalidation on notice, and bounded purges of expired records.
func (s *Server) startBackground(ctx context.Context, wg *sync.WaitGroup) {
	n := s.stores.Durable.Notifier
	var keyChanges <-chan string
	if n != nil {
		var err error
		if keyChanges, err = n.Subscribe(ctx, topicKeys); err != nil {
			s.log.Warn("subscribe to key changes; falling back to periodic refresh", "error", err.Error())
		}
		clientChanges, err := n.Subscribe(ctx, topicClients)
		if err != nil {
			s.log.Warn("subscribe to client changes; falling back to the cache TTL", "error", err.Error())
		} else {
			wg.Go(func() {
				for id := range clientChanges {
					s.clients.Invalidate(id)
				}
			})
		}
	}
	wg.Go(func() { s.keys.Run(ctx, s.cfg.Keys.RefreshInterval, keyChanges) })
	wg.Go(func() { s.purgeLoop(ctx) })
}

// AnnounceKeyChange tells the other nodes to reload the signing keys.
func AnnounceKeyChange(ctx context.Context, st *Stores) error {
	if st.Durable.Notifier == nil {
		return nil
	}
	return st.Durable.Notifier.Publish(ctx, topicKeys, "rotated")
}
