package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/keyward/keyward/oauth"
)

// AuthzState is the state of an authorisation session.
type AuthzState string

// Authorisation session states; the transitions are owned by the protocol
// core (internal/core/authz).
const (
	AuthzStateAuthPending    AuthzState = "auth_pending"
	AuthzStateConsentPending AuthzState = "consent_pending"
	AuthzStateDone           AuthzState = "done"
	AuthzStateFailed         AuthzState = "failed"
)

// AuthzRequest is a validated authorisation request (RFC 6749 §4.1.1,
// OIDC Core §3.1.2.1) as the authorisation session keeps it.
type AuthzRequest struct {
	ResponseType        []string             `json:"response_type"`
	ResponseMode        string               `json:"response_mode,omitempty"`
	ClientID            string               `json:"client_id"`
	RedirectURI         string               `json:"redirect_uri"`
	Scope               []string             `json:"scope,omitempty"`
	State               string               `json:"state,omitempty"`
	Nonce               string               `json:"nonce,omitempty"`
	CodeChallenge       string               `json:"code_challenge,omitempty"`
	CodeChallengeMethod string               `json:"code_challenge_method,omitempty"`
	Prompt              []string             `json:"prompt,omitempty"`
	MaxAge              *int64               `json:"max_age,omitempty"`
	ACRValues           []string             `json:"acr_values,omitempty"`
	LoginHint           string               `json:"login_hint,omitempty"`
	IDTokenHint         string               `json:"id_token_hint,omitempty"`
	Claims              *oauth.ClaimsRequest `json:"claims,omitempty"`
	UILocales           []string             `json:"ui_locales,omitempty"`
	ClaimsLocales       []string             `json:"claims_locales,omitempty"`
	Display             string               `json:"display,omitempty"`
	// Purpose is the purpose request parameter (OpenID Connect for Identity
	// Assurance 1.0 §8), 3 to 300 characters.
	Purpose string `json:"purpose,omitempty"`
	// ResponseSigningAlg signs a JWT-secured response (JARM, ResponseMode
	// query.jwt, fragment.jwt or form_post.jwt).
	ResponseSigningAlg string `json:"response_signing_alg,omitempty"`
	// DPoPJKT is dpop_jkt (RFC 9449 §10): the thumbprint of the DPoP key
	// the code must be redeemed with.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
	// AuthorizationDetails is the validated authorization_details
	// parameter (RFC 9396), each element canonically encoded.
	AuthorizationDetails []json.RawMessage `json:"authorization_details,omitempty"`
	// Resource lists the resource indicators (RFC 8707) of the request.
	Resource []string `json:"resource,omitempty"`
	// PushedRequest is the store key of the pushed request (RFC 9126) the
	// request came from, so that completing the flow can mark it used.
	PushedRequest string `json:"pushed_request,omitempty"`
	// Params is every parameter as received, for plug-ins and the login UI.
	Params map[string][]string `json:"params,omitempty"`
}

// AuthzSession is the server side of one authorisation request while the
// login UI works through it. Ephemeral.
type AuthzSession struct {
	ID      string       `json:"id"`
	State   AuthzState   `json:"state"`
	Request AuthzRequest `json:"request"`
	// SubjectSessionID is the subject session the request runs under, once
	// known (given by the UI or created at authentication).
	SubjectSessionID string `json:"subject_session_id,omitempty"`
	// NewSubjectSession is set when this authorisation session created or
	// replaced the subject session, so the final response returns its ID.
	NewSubjectSession bool      `json:"new_subject_session,omitempty"`
	Subject           string    `json:"subject,omitempty"`
	AuthTime          time.Time `json:"auth_time"`
	ACR               string    `json:"acr,omitempty"`
	AMR               []string  `json:"amr,omitempty"`
	// Final is the final response once reached, replayed on identical
	// re-submission.
	Final []byte `json:"final,omitempty"`
	// CompletedAt is when the session reached Final: an identical
	// re-submission shortly after replays it (a double submit), anything
	// later finds no session.
	CompletedAt time.Time      `json:"completed_at,omitzero"`
	Data        map[string]any `json:"data,omitempty"`
	// FPT is the user-agent fingerprint the login UI gave at start; it is
	// recorded in the subject session the authentication creates.
	FPT string `json:"fpt,omitempty"`
	// RedirectTemplateParam is the value that filled a registered
	// redirect URI template (redirect_uri_template_param).
	RedirectTemplateParam string    `json:"redirect_uri_template_param,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
	ExpiresAt             time.Time `json:"expires_at"`
}

// AuthzSessionStore keeps authorisation sessions.
type AuthzSessionStore interface {
	Create(ctx context.Context, s *AuthzSession) error
	Get(ctx context.Context, id string, now time.Time) (*AuthzSession, error)
	Update(ctx context.Context, id string, now time.Time, fn func(*AuthzSession) error) (*AuthzSession, error)
	Delete(ctx context.Context, id string) error
}

// SubjectSession is a subject's single sign-on session with the provider.
// ID is the key part of the session ID the login UI keeps in its cookie; the
// core adds and checks the MAC. Ephemeral.
type SubjectSession struct {
	ID       string    `json:"id"`
	Subject  string    `json:"subject,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	ACR      string    `json:"acr,omitempty"`
	AMR      []string  `json:"amr,omitempty"`
	// Lifetimes; a negative value means unlimited.
	MaxLife  time.Duration  `json:"max_life"`
	AuthLife time.Duration  `json:"auth_life"`
	MaxIdle  time.Duration  `json:"max_idle"`
	RPs      []string       `json:"rps,omitempty"` // client IDs that received tokens in this session
	Claims   map[string]any `json:"claims,omitempty"`
	Data     map[string]any `json:"data,omitempty"`
	Ctx      string         `json:"ctx,omitempty"`
	// FPT is the user-agent fingerprint given when the subject
	// authenticated; a request from another fingerprint may not use the
	// session for single sign-on.
	FPT        string    `json:"fpt,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	// ExpiresAt is the earlier of the max-life and max-idle deadlines; the
	// core keeps it current on every update.
	ExpiresAt time.Time `json:"expires_at"`
}

// SubjectSessionStore keeps subject sessions.
type SubjectSessionStore interface {
	Create(ctx context.Context, s *SubjectSession) error
	Get(ctx context.Context, id string, now time.Time) (*SubjectSession, error)
	Update(ctx context.Context, id string, now time.Time, fn func(*SubjectSession) error) (*SubjectSession, error)
	// Delete removes the session and returns it as it was stored, live or
	// expired but not yet taken; ErrNotFound if there is none. Of any
	// number of concurrent callers (on any node) exactly one gets the
	// session: that caller owns the logout notifications it triggers.
	Delete(ctx context.Context, id string) (*SubjectSession, error)
	// ListBySubject returns the subject's live sessions, oldest first.
	ListBySubject(ctx context.Context, subject string, now time.Time) ([]*SubjectSession, error)
	// TakeExpired removes up to limit sessions whose ExpiresAt is at or
	// before now and returns them, so that the caller can send the logout
	// notifications their expiry calls for (OpenID Connect Back-Channel
	// Logout 1.0 §2.7). Like Delete, each session is returned to exactly
	// one caller. The ephemeral Purger leaves subject sessions to this
	// method: a purge that dropped them would lose the notifications.
	TakeExpired(ctx context.Context, now time.Time, limit int) ([]*SubjectSession, error)
}

// Code is an authorisation code, keyed by the SHA-256 hex of its value. It
// carries the grant to create when it is redeemed; GrantID is fixed when the
// code is issued so that a replayed code can revoke what the first
// redemption issued. Ephemeral, single use.
type Code struct {
	ID                  string `json:"id"`
	GrantID             string `json:"grant_id"`
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri,omitempty"`
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	Nonce               string `json:"nonce,omitempty"`
	// DPoPJKT is the authorisation request's dpop_jkt (RFC 9449 §10): the
	// code may only be redeemed with a proof of that key.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
	// Grant is the authorisation to issue on redemption.
	Grant     Grant     `json:"grant"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CodeStore keeps authorisation codes.
type CodeStore interface {
	Create(ctx context.Context, c *Code) error
	// Consume returns the code the first time; afterwards, until the code
	// expires, it returns the code with ErrConsumed. Unknown or expired codes
	// give ErrNotFound. Exactly one of any number of concurrent callers wins.
	Consume(ctx context.Context, id string, now time.Time) (*Code, error)
}

// PushedRequest is a pushed authorisation request (RFC 9126), keyed by the
// reference part of its request_uri. Ephemeral, single use.
type PushedRequest struct {
	ID        string              `json:"id"`
	ClientID  string              `json:"client_id"`
	Params    map[string][]string `json:"params"`
	CreatedAt time.Time           `json:"created_at"`
	ExpiresAt time.Time           `json:"expires_at"`
}

// PARStore keeps pushed authorisation requests.
type PARStore interface {
	Create(ctx context.Context, r *PushedRequest) error
	// Consume has the semantics of CodeStore.Consume.
	Consume(ctx context.Context, id string, now time.Time) (*PushedRequest, error)
	// DeleteByClient removes every pushed request of the client, consumed
	// or not, and returns how many it removed; for a client that is being
	// deleted.
	DeleteByClient(ctx context.Context, clientID string) (int, error)
}

// ReplayCache remembers one-time identifiers (JWT "jti", assertion IDs).
//
// Keys arrive already hashed: the protocol core passes the hex SHA-256 of
// the identifier (64 characters of [0-9a-f]), hashing once and the same way
// whatever the backend, so a backend stores the key as given, with no
// escaping, hashing or length check of its own.
type ReplayCache interface {
	// MarkUsed records key until the given time and reports whether it was
	// already recorded and unexpired at now; a single atomic step.
	MarkUsed(ctx context.Context, key string, until, now time.Time) (alreadyUsed bool, err error)
}
