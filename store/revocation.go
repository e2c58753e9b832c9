package store

import (
	"context"
	"time"
)

// RevocationKind names what a revocation journal entry revokes.
type RevocationKind string

// Revocation kinds. A self-contained token matches an entry when the entry
// was written at or after the token's "iat" and the token's fields equal
// the entry's: Subject ("sub"), ClientID ("client_id"), both
// (an authorisation), Actor ("act"."sub"), or TokenID ("jti").
const (
	RevokeSubject       RevocationKind = "subject"
	RevokeClient        RevocationKind = "client"
	RevokeAuthorization RevocationKind = "authorization"
	RevokeActor         RevocationKind = "actor"
	RevokeToken         RevocationKind = "token"
)

// Revocation is one entry of the revocation journal: self-contained (JWT)
// tokens are not stored, so revoking them means remembering, until the
// longest of them has expired, what was revoked and when (Connect2id's
// revocation journal, https://connect2id.com/products/server/docs/api/authz-store#revocation).
// Durable.
type Revocation struct {
	// ID is unique, chosen by the writer (random).
	ID   string
	Kind RevocationKind
	// The fields the kind names are set; the others are empty.
	Subject  string
	ClientID string
	Actor    string
	TokenID  string
	// RevokedAt is when the revocation took effect: tokens issued at or
	// before it are refused.
	RevokedAt time.Time
	// ExpiresAt is when no token the entry can match is valid any more
	// (RevokedAt plus the longest access-token lifetime, or the one
	// token's expiry); the purge removes the entry then.
	ExpiresAt time.Time
}

// RevocationJournal keeps revocation entries. Durable.
type RevocationJournal interface {
	// Add stores a new entry; ErrExists if the ID is taken.
	Add(ctx context.Context, r *Revocation) error
	// ListLive returns every entry unexpired at now, oldest RevokedAt
	// first (ties by ID). The journal is bounded by the longest
	// access-token lifetime, so nodes read it whole into memory.
	ListLive(ctx context.Context, now time.Time) ([]*Revocation, error)
}
