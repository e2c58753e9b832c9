package users

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
	"github.com/keyward/keyward/plugin/simple"
)

// Password throttling defaults: after DefaultMaxFailures wrong passwords
// for one username within DefaultFailureWindow, that username is refused
// without a password check until the window has passed. The count is per
// node, so a cluster of N nodes allows N times the attempts.
const (
	DefaultMaxFailures   = 10
	DefaultFailureWindow = 5 * time.Minute
	// maxThrottled bounds the usernames tracked; when full, expired
	// entries go first, then all (a flood of usernames then costs the
	// attacker its own counts too).
	maxThrottled = 100_000
)

// invalidCredentials is the one answer for an unknown user, a user without
// a password and a wrong password (RFC 6749 §5.2 invalid_grant).
func invalidCredentials() error {
	return oauth.InvalidGrant("invalid username or password")
}

// Authenticator checks a username and password and returns the subject;
// an unknown user or a wrong password is plugin.ErrInvalidCredentials.
// *Directory implements it, and so does the LDAP source (plugin/ldap).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (sub string, err error)
}

// PasswordHandler is the built-in password grant handler "users"
// (RFC 6749 §4.3), and "ldap" over an LDAP directory: it checks the
// username and password with its Authenticator (for the users file:
// argon2id or bcrypt, in constant time, with the same work for an unknown
// user), throttles wrong passwords per username, and grants the
// requested scope narrowed to the client's registered scope, with a
// refresh token, an ID token for the openid scope and the scope's standard
// claims at UserInfo (OIDC Core §5.4). Safe for concurrent use.
type PasswordHandler struct {
	dir    Authenticator
	tokens simple.Tokens
	now    func() time.Time
	max    int
	window time.Duration

	mu       sync.Mutex
	failures map[[sha256.Size]byte]*failures
}

type failures struct {
	count int
	since time.Time
}

// PasswordOptions configures a PasswordHandler; zero values take the
// defaults.
type PasswordOptions struct {
	Tokens simple.Tokens
	// MaxFailures and FailureWindow set the throttle.
	MaxFailures   int
	FailureWindow time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewPasswordHandler returns the password grant handler backed by dir, a
// *Directory or another Authenticator.
func NewPasswordHandler(dir Authenticator, o PasswordOptions) (*PasswordHandler, error) {
	if dir == nil {
		return nil, errors.New("password handler: no users directory")
	}
	if err := o.Tokens.Validate(); err != nil {
		return nil, fmt.Errorf("password handler: %w", err)
	}
	h := &PasswordHandler{dir: dir, tokens: o.Tokens, now: o.Now, max: o.MaxFailures, window: o.FailureWindow,
		failures: map[[sha256.Size]byte]*failures{}}
	if h.now == nil {
		h.now = time.Now
	}
	if h.max <= 0 {
		h.max = DefaultMaxFailures
	}
	if h.window <= 0 {
		h.window = DefaultFailureWindow
	}
	return h, nil
}

var _ plugin.PasswordHandler = (*PasswordHandler)(nil)

// HandlePassword implements plugin.PasswordHandler.
func (h *PasswordHandler) HandlePassword(ctx context.Context, req plugin.PasswordRequest) (*plugin.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password handler: %w", err)
	}
	key := sha256.Sum256([]byte(req.Username))
	if !h.attempt(key) {
		return nil, oauth.InvalidGrant("too many failed attempts for this username; try again later")
	}
	sub, err := h.dir.Authenticate(ctx, req.Username, req.Password)
	if errors.Is(err, ErrInvalidCredentials) {
		return nil, invalidCredentials()
	}
	if err != nil {
		return nil, fmt.Errorf("password handler: %w", err)
	}
	h.forget(key)
	scope, err := simple.NarrowScope(req.Scope, req.Client.Scope)
	if err != nil {
		return nil, err
	}
	openid := oauth.Scope(scope).Contains(oauth.ScopeOpenID)
	return &plugin.Authorization{
		Subject:      sub,
		Scope:        scope,
		Audience:     append([]string(nil), h.tokens.Audience...),
		AccessToken:  plugin.AccessTokenSpec{Lifetime: h.tokens.AccessTokenLifetime, Encoding: h.tokens.AccessTokenEncoding},
		RefreshToken: plugin.RefreshTokenSpec{Issue: true},
		IDToken:      plugin.IDTokenSpec{Issue: openid},
		Claims:       oauth.ClaimsForScope(scope),
	}, nil
}

// attempt counts a password attempt for the username and reports whether
// it may go ahead. The attempt is counted before the password is checked,
// in one step with the limit check, so parallel requests cannot all pass
// before any is recorded (as the login UI's throttle does); a success
// forgets the count.
func (h *PasswordHandler) attempt(key [sha256.Size]byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	f, ok := h.failures[key]
	if !ok || now.Sub(f.since) >= h.window {
		if len(h.failures) >= maxThrottled {
			for k, v := range h.failures {
				if now.Sub(v.since) >= h.window {
					delete(h.failures, k)
				}
			}
			if len(h.failures) >= maxThrottled {
				clear(h.failures)
			}
		}
		f = &failures{since: now}
		h.failures[key] = f
	}
	if f.count >= h.max {
		return false
	}
	f.count++
	return true
}

func (h *PasswordHandler) forget(key [sha256.Size]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.failures, key)
}
