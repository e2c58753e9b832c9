package store

import (
	"context"
	"encoding/json"
	"time"
)

// TokenSpec holds the token settings decided at consent (or by a grant
// handler) and applied whenever tokens are minted for an authorisation.
type TokenSpec struct {
	AccessTokenLifetime  time.Duration `json:"access_token_lifetime,omitempty"`
	AccessTokenEncoding  string        `json:"access_token_encoding,omitempty"` // oauth.TokenEncoding*
	IssueRefreshToken    bool          `json:"issue_refresh_token,omitempty"`
	RefreshTokenLifetime time.Duration `json:"refresh_token_lifetime,omitempty"` // 0: no expiry
	RefreshTokenMaxIdle  time.Duration `json:"refresh_token_max_idle,omitempty"` // 0: none
	RotateRefreshToken   bool          `json:"rotate_refresh_token,omitempty"`
	IDTokenLifetime      time.Duration `json:"id_token_lifetime,omitempty"`
	AllowIDTokenRefresh  bool          `json:"allow_id_token_refresh,omitempty"`
	// EncryptAccessToken wraps a SELF_CONTAINED access token in a JWE
	// (dir, A128GCM) under a key derived from the master key (Connect2id's
	// access_token.encrypt).
	EncryptAccessToken bool `json:"encrypt_access_token,omitempty"`
	// AccessTokenSubjectType is "PAIRWISE" for an access token whose subject
	// is derived per audience; empty or "PUBLIC" otherwise (Connect2id's
	// access_token.sub_type).
	AccessTokenSubjectType string `json:"access_token_sub_type,omitempty"`
	// ImpersonatedSubject replaces the ID token's sub (Connect2id's
	// id_token.impersonated_sub); the real subject goes in "act".
	ImpersonatedSubject string `json:"impersonated_sub,omitempty"`
}

// Consented is what a subject authorised a client to receive.
type Consented struct {
	Scope []string `json:"scope,omitempty"`
	// Claims are consented claim names, optionally prefixed "id_token:" to
	// force delivery in the ID token.
	Claims               []string       `json:"claims,omitempty"`
	ClaimsLocales        []string       `json:"claims_locales,omitempty"`
	PresetIDTokenClaims  map[string]any `json:"preset_id_token_claims,omitempty"`
	PresetUserInfoClaims map[string]any `json:"preset_userinfo_claims,omitempty"`
	ClaimsData           map[string]any `json:"claims_data,omitempty"`
	Audience             []string       `json:"audience,omitempty"`
	Data                 map[string]any `json:"data,omitempty"`
	// AccessTokenClaims are consented claim names fed into the access token
	// (the consent's "access_token:" prefixes, kept without it): "name"
	// becomes a top-level claim, "uip:name" joins "uip" and "dat:name"
	// joins "dat".
	AccessTokenClaims []string `json:"access_token_claims,omitempty"`
	// SessionClaims are the subject session claims the ID token carries
	// (tokens.id_token_session_claims), copied when the code was issued.
	SessionClaims map[string]any `json:"session_claims,omitempty"`
	// AuthorizationDetails are the granted authorization_details
	// (RFC 9396 §7), carried into access tokens and introspection.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	// Resources are the granted resource indicators (RFC 8707): the access
	// tokens' audience unless the consent set one, and the bound of the
	// resource parameter at the token endpoint.
	Resources []string `json:"resources,omitempty"`
}

// Confirmation binds tokens to a key the client proves it holds
// (RFC 7800 "cnf"): JKT is a DPoP key's SHA-256 JWK thumbprint (RFC 9449
// §6.1), X5TS256 a client certificate's SHA-256 thumbprint (RFC 8705
// §3.1), both base64url. The zero value binds nothing.
type Confirmation struct {
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// IsZero reports whether c binds nothing.
func (c Confirmation) IsZero() bool { return c.JKT == "" && c.X5TS256 == "" }

// Grant is one issued authorisation: the record behind a redeemed code (and,
// later, a password or direct grant) that its refresh tokens and identifier
// access tokens hang off. Deleting it revokes them all. Durable.
type Grant struct {
	ID       string `json:"id"`
	Subject  string `json:"subject"`
	ClientID string `json:"client_id"`
	Consented
	Tokens           TokenSpec `json:"tokens"`
	LongLived        bool      `json:"long_lived,omitempty"`
	SubjectSessionID string    `json:"subject_session_id,omitempty"`
	AuthTime         time.Time `json:"auth_time"`
	ACR              string    `json:"acr,omitempty"`
	AMR              []string  `json:"amr,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	// ExpiresAt is when nothing issued under the grant can be valid any more;
	// zero while a non-expiring refresh token may exist.
	ExpiresAt time.Time `json:"expires_at"`
	// Confirmation binds the grant's refresh tokens: set for a public
	// client that redeemed its code with a DPoP proof (RFC 9449 §5), whose
	// refresh requests must then prove the same key.
	Confirmation Confirmation `json:"cnf,omitzero"`
}

// GrantFilter selects grants; empty fields match everything, but at least
// one field must be set.
type GrantFilter struct {
	Subject  string
	ClientID string
}

// GrantStore keeps issued authorisations. Durable.
type GrantStore interface {
	// Create stores a new grant; ErrExists if the ID is taken.
	Create(ctx context.Context, g *Grant) error
	// Get returns the grant or ErrNotFound (also when expired at now).
	Get(ctx context.Context, id string, now time.Time) (*Grant, error)
	// Delete removes the grant with its refresh and access tokens;
	// ErrNotFound if unknown.
	Delete(ctx context.Context, id string) error
	// DeleteMatching removes every grant the filter selects, with their
	// tokens, and returns how many grants it removed.
	DeleteMatching(ctx context.Context, f GrantFilter) (int, error)
	// List returns the grants the filter selects, newest first.
	List(ctx context.Context, f GrantFilter, now time.Time) ([]*Grant, error)
}

// Authorization is a long-lived authorisation (consent) of a subject for a
// client, keyed by (Subject, ClientID): a later request within it needs no
// new consent. Durable.
type Authorization struct {
	Subject  string `json:"subject"`
	ClientID string `json:"client_id"`
	Consented
	Tokens    TokenSpec `json:"tokens"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AuthorizationStore keeps long-lived authorisations.
type AuthorizationStore interface {
	// Put creates or replaces the authorisation for (Subject, ClientID).
	Put(ctx context.Context, a *Authorization) error
	// Get returns the authorisation or ErrNotFound.
	Get(ctx context.Context, subject, clientID string) (*Authorization, error)
	// Delete removes it; ErrNotFound if unknown.
	Delete(ctx context.Context, subject, clientID string) error
	// List returns the authorisations of a subject (clientID empty) or of a
	// client (subject empty), or the one of both.
	List(ctx context.Context, subject, clientID string) ([]*Authorization, error)
	// Subjects returns up to limit distinct subjects that have an
	// authorisation and sort after after, in ascending order (the backend's
	// text order, the same for every call), so that a caller pages through
	// any number of them by passing the last one back as after.
	Subjects(ctx context.Context, after string, limit int) ([]string, error)
	// Clients is Subjects for the client IDs that have an authorisation.
	Clients(ctx context.Context, after string, limit int) ([]string, error)
}

// RefreshToken is an issued refresh token, keyed by the SHA-256 hex of its
// value. Durable.
type RefreshToken struct {
	ID         string
	GrantID    string
	ClientID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	// RotatedAt is when the token was exchanged for its successor; a rotated
	// token presented again is a replay.
	RotatedAt time.Time
}

// RefreshTokenStore keeps refresh tokens. Durable.
type RefreshTokenStore interface {
	// Create stores a new token; ErrExists if the ID is taken, ErrNotFound
	// if its grant does not exist (it may have been revoked meanwhile).
	Create(ctx context.Context, t *RefreshToken) error
	// Get returns the token, rotated or not, or ErrNotFound (also when
	// expired at now).
	Get(ctx context.Context, id string, now time.Time) (*RefreshToken, error)
	// Touch records a use at now (for the idle timeout).
	Touch(ctx context.Context, id string, now time.Time) error
	// Rotate marks token id as rotated at now and stores next, atomically.
	// In the same step it removes the grant's other rotated tokens: a grant
	// keeps one rotated generation, the one replay detection needs, so that
	// a grant without expiry still holds a bounded number of tokens.
	// If id was already rotated it returns the stored token with ErrConsumed
	// and stores nothing; if its grant is gone (revoked meanwhile) it
	// returns ErrNotFound. A concurrent Grants.Delete of the token's grant
	// always takes effect: it either waits for the rotation and removes the
	// successor too, or the rotation fails.
	Rotate(ctx context.Context, id string, now time.Time, next *RefreshToken) (*RefreshToken, error)
}

// AccessToken is an identifier (opaque) access token, keyed by the SHA-256
// hex of its value. Self-contained (JWT) access tokens are not stored.
// Durable.
type AccessToken struct {
	ID        string
	GrantID   string
	ClientID  string
	Subject   string
	Scope     []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Confirmation is the key the token is bound to (DPoP or mTLS).
	Confirmation Confirmation
}

// AccessTokenStore keeps identifier access tokens.
type AccessTokenStore interface {
	// Create stores a new token; ErrExists if the ID is taken, ErrNotFound
	// if its grant does not exist (it may have been revoked meanwhile).
	Create(ctx context.Context, t *AccessToken) error
	// Get returns the token or ErrNotFound (also when expired at now).
	Get(ctx context.Context, id string, now time.Time) (*AccessToken, error)
	// Delete removes the token; ErrNotFound if unknown.
	Delete(ctx context.Context, id string) error
}
