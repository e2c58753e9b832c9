package token

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/store"
)

// DefaultJournalRefresh is how often a node re-reads the revocation
// journal when no change notice arrives: the bound on how long a
// revocation made on another node can take to reach this one if the
// notice is lost.
const DefaultJournalRefresh = 30 * time.Second

// Journal is a node's in-memory copy of the live revocation journal
// (store.RevocationJournal), so that UserInfo and introspection check a
// self-contained access token against every revocation without a store
// round trip. A node sees its own revocations at once; another node's
// within the delivery time of the change notice, and at worst within the
// refresh interval of Run. Safe for concurrent use.
type Journal struct {
	Store store.RevocationJournal
	Now   func() time.Time
	// Changed, when set, is called after this node wrote an entry, to tell
	// the other nodes (a store.Notifier publish); best effort.
	Changed func(ctx context.Context)
	Log     *slog.Logger

	mu  sync.RWMutex
	idx journalIndex
}

// journalIndex holds, for each revoked value, the latest revocation time
// and the latest expiry of the entries that name it.
type journalIndex struct {
	subject, client, actor, token map[string]mark
	authz                         map[[2]string]mark
}

type mark struct{ revokedAt, expiresAt time.Time }

func newIndex() journalIndex {
	return journalIndex{
		subject: map[string]mark{}, client: map[string]mark{}, actor: map[string]mark{},
		token: map[string]mark{}, authz: map[[2]string]mark{},
	}
}

func (m mark) merge(r *store.Revocation) mark {
	if r.RevokedAt.After(m.revokedAt) {
		m.revokedAt = r.RevokedAt
	}
	if r.ExpiresAt.After(m.expiresAt) {
		m.expiresAt = r.ExpiresAt
	}
	return m
}

func (x journalIndex) add(r *store.Revocation) {
	switch r.Kind {
	case store.RevokeSubject:
		x.subject[r.Subject] = x.subject[r.Subject].merge(r)
	case store.RevokeClient:
		x.client[r.ClientID] = x.client[r.ClientID].merge(r)
	case store.RevokeAuthorization:
		k := [2]string{r.Subject, r.ClientID}
		x.authz[k] = x.authz[k].merge(r)
	case store.RevokeActor:
		x.actor[r.Actor] = x.actor[r.Actor].merge(r)
	case store.RevokeToken:
		x.token[r.TokenID] = x.token[r.TokenID].merge(r)
	}
}

// Refresh replaces the in-memory copy with the live entries of the store.
func (j *Journal) Refresh(ctx context.Context) error {
	entries, err := j.Store.ListLive(ctx, j.Now().UTC())
	if err != nil {
		return fmt.Errorf("refresh revocation journal: %w", err)
	}
	idx := newIndex()
	for _, r := range entries {
		idx.add(r)
	}
	j.mu.Lock()
	j.idx = idx
	j.mu.Unlock()
	return nil
}

// add writes r to the store and to the in-memory copy, and announces it.
func (j *Journal) add(ctx context.Context, r *store.Revocation) error {
	if err := j.Store.Add(ctx, r); err != nil {
		return fmt.Errorf("add revocation: %w", err)
	}
	j.mu.Lock()
	if j.idx.subject == nil {
		j.idx = newIndex()
	}
	j.idx.add(r)
	j.mu.Unlock()
	if j.Changed != nil {
		j.Changed(ctx)
	}
	return nil
}

// tokenFacts are what a self-contained token says about itself that a
// journal entry can match.
type tokenFacts struct {
	subject, clientID, actor, jti string
	issuedAt                      int64 // Unix seconds ("iat")
}

// Revoked reports whether an entry matching f was written at or after the
// token's "iat". "iat" has a resolution of one second, so a token issued in
// the same second as a revocation, even just after it, counts as revoked:
// the safe side (Connect2id's authzStore.revocation.checkBias = +1).
func (j *Journal) revoked(f tokenFacts, now time.Time) bool {
	j.mu.RLock()
	defer j.mu.RUnlock()
	x := j.idx
	if x.subject == nil {
		return false
	}
	hit := func(m mark, ok bool) bool {
		return ok && now.Before(m.expiresAt) && f.issuedAt <= m.revokedAt.Unix()
	}
	if m, ok := x.subject[f.subject]; hit(m, ok) {
		return true
	}
	if m, ok := x.client[f.clientID]; hit(m, ok) {
		return true
	}
	if m, ok := x.authz[[2]string{f.subject, f.clientID}]; hit(m, ok) {
		return true
	}
	if f.actor != "" {
		if m, ok := x.actor[f.actor]; hit(m, ok) {
			return true
		}
	}
	if f.jti != "" {
		if m, ok := x.token[f.jti]; hit(m, ok) {
			return true
		}
	}
	return false
}

// Run re-reads the journal at once on every value from changes (another
// node's notice; nil or closed: none) and every interval (default
// DefaultJournalRefresh) until ctx ends.
func (j *Journal) Run(ctx context.Context, interval time.Duration, changes <-chan string) {
	if interval <= 0 {
		interval = DefaultJournalRefresh
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				changes = nil
				continue
			}
		case <-t.C:
		}
		if err := j.Refresh(ctx); err != nil && ctx.Err() == nil && j.Log != nil {
			j.Log.ErrorContext(ctx, "refresh revocation journal", "err", err)
		}
	}
}
