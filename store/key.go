package store

import (
	"context"
	"time"
)

// SigningKey is one of the server's signing keys. Its private part is sealed
// under the master key before it reaches the store. Durable.
type SigningKey struct {
	ID            string // the JWK "kid"
	Alg           string // JWS algorithm, e.g. RS256
	Public        []byte // public JWK, JSON
	PrivateSealed []byte // private JWK, JSON, encrypted
	CreatedAt     time.Time
	// RetiredAt is when the key stopped signing new tokens; zero while
	// active. A retired key stays published until DeleteAfter.
	RetiredAt   time.Time
	DeleteAfter time.Time
}

// KeyStore keeps the signing keys shared by every node.
type KeyStore interface {
	// List returns every stored key, oldest first.
	List(ctx context.Context) ([]*SigningKey, error)
	// AddIfEmpty stores keys only if the store holds no key yet, atomically
	// across nodes; it reports whether it stored them. Nodes starting
	// together on an empty store thus end with one key set.
	AddIfEmpty(ctx context.Context, keys []*SigningKey) (bool, error)
	// Rotate retires every active key whose Alg is among next's (RetiredAt =
	// now, DeleteAfter = deleteAfter) and stores next, atomically.
	Rotate(ctx context.Context, next []*SigningKey, now, deleteAfter time.Time) error
	// DeleteRetired removes retired keys whose DeleteAfter is before now and
	// returns how many it removed.
	DeleteRetired(ctx context.Context, now time.Time) (int, error)
}

// KeyCheck inspects one stored signing key, its id and sealed private key,
// before a backend migrates its schema; a backend that returns its error
// from Open has written nothing. Only the id and sealed columns are read,
// which every schema version has, so an older database is checked as it is.
// A node passes a check that the master key opens the key, so that a wrong
// or missing master key stops it before a migration.
type KeyCheck func(ctx context.Context, id string, sealed []byte) error
