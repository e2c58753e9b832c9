package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/store"
)

// Default lifetimes and per-subject quota: Connect2id's
// (https://connect2id.com/products/server/docs/config/session-store).
const (
	DefaultMaxLife  = 180 * 24 * time.Hour
	DefaultAuthLife = 30 * 24 * time.Hour
	DefaultMaxIdle  = 10 * 24 * time.Hour
	DefaultQuota    = 5
	// CtxWeb is the context of browser sessions created through the
	// authorisation session API.
	CtxWeb = "web"
)

// unlimitedHorizon stands in for "never" in ExpiresAt, which every backend
// needs as a finite TTL.
const unlimitedHorizon = 100 * 365 * 24 * time.Hour

// ErrNotFound is returned (wrapped) for a session ID that is malformed, has a
// bad MAC, is unknown or has expired. It wraps store.ErrNotFound.
var ErrNotFound = fmt.Errorf("subject session: %w", store.ErrNotFound)

// ErrOtherSubject is returned by Reauthenticate when the login is for a
// different subject than the session's.
var ErrOtherSubject = errors.New("subject session belongs to another subject")

// Config holds the session lifetimes. Zero means the default, negative
// means unlimited.
type Config struct {
	MaxLife  time.Duration
	AuthLife time.Duration
	MaxIdle  time.Duration
	// QuotaPerSubject caps the live sessions of one subject; creating one
	// more closes the oldest. Zero means DefaultQuota, negative no limit.
	QuotaPerSubject int
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// MaxQuota is the largest QuotaPerSubject (Connect2id's
// sessionStore.quotaPerSubject allows at most 25).
const MaxQuota = 25

// EndReason says why a session ended, for the logs and the logout
// notifications.
type EndReason string

// Why a session ended.
const (
	// EndLogout: the session was ended on purpose (the session store API,
	// the logout page, a login of another subject in the same browser).
	EndLogout EndReason = "logout"
	// EndQuota: the subject opened more sessions than the quota allows and
	// this, the oldest, was closed.
	EndQuota EndReason = "quota"
	// EndExpired: the session passed its max life or max idle time and the
	// purge took it.
	EndExpired EndReason = "expired"
)

// Service creates, reads and ends subject sessions. It is safe for
// concurrent use; all state lives in Store.
type Service struct {
	Store  store.SubjectSessionStore
	MACKey []byte
	Config Config
	Now    func() time.Time
	Rand   io.Reader // nil: crypto/rand
	Log    *slog.Logger
	// Ended, if set, is called once for every session this service
	// removes from the store, by whichever caller removed it (the store
	// gives a removed session to exactly one caller, on any node), after
	// the removal: the logout service sends the notifications and revokes
	// tokens from here. It must not block for long.
	Ended func(ctx context.Context, sess *store.SubjectSession, why EndReason)
}

// ended reports a removed session to Ended.
func (s *Service) ended(ctx context.Context, sess *store.SubjectSession, why EndReason) {
	s.log().InfoContext(ctx, "subject session ended", "session", PublicID(sess.ID), "reason", string(why))
	if s.Ended != nil && sess != nil {
		s.Ended(ctx, sess, why)
	}
}

// Login describes a successful subject authentication (docs/api.md §3,
// step 2).
type Login struct {
	Sub      string
	ACR      string
	AMR      []string
	AuthTime time.Time // zero: now
	Claims   map[string]any
	Data     map[string]any
	// Lifetime overrides in minutes, as the wire gives them: nil or 0 keeps
	// the configured value, negative is unlimited.
	MaxLife  *int64
	AuthLife *int64
	MaxIdle  *int64
	Ctx      string // empty: CtxWeb
	// FPT is the user-agent fingerprint of the login (Connect2id's fpt);
	// empty keeps the session's.
	FPT string
}

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func lifetime(override *int64, configured, def time.Duration) time.Duration {
	if override != nil && *override != 0 {
		if *override < 0 {
			return -1
		}
		return time.Duration(*override) * time.Minute
	}
	d := orDefault(configured, def)
	if d < 0 {
		return -1
	}
	return d
}

// SIDForKey returns the session ID the UI keeps for a stored key.
func SIDForKey(macKey []byte, key string) string {
	return key + "." + secret.MAC(macKey, key)
}

// PublicID returns the ID token "sid" claim value for a session key (OIDC
// Front-Channel Logout §3, Back-Channel Logout §2.1): stable per session and
// not usable as the cookie value.
func PublicID(key string) string {
	sum := sha256.Sum256([]byte("keyward sid v1:" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// KeyForSID checks the MAC of a session ID in constant time and returns the
// key part; ok is false for anything malformed or forged.
func KeyForSID(macKey []byte, sid string) (key string, ok bool) {
	key, mac, found := strings.Cut(sid, ".")
	if !found || key == "" || mac == "" {
		return "", false
	}
	want := secret.MAC(macKey, key)
	if !secret.Equal([]byte(want), []byte(mac)) {
		return "", false
	}
	return key, true
}

// expiry is the earlier of the max-life and max-idle deadlines.
func expiry(sess *store.SubjectSession) time.Time {
	exp := sess.CreatedAt.Add(unlimitedHorizon)
	if sess.MaxLife >= 0 {
		exp = sess.CreatedAt.Add(sess.MaxLife)
	}
	if sess.MaxIdle >= 0 {
		if idle := sess.LastUsedAt.Add(sess.MaxIdle); idle.Before(exp) {
			exp = idle
		}
	}
	return exp
}

// Expired reports whether the session has passed its max life or max idle
// time at now.
func Expired(sess *store.SubjectSession, now time.Time) bool {
	return !now.Before(expiry(sess))
}

// AuthExpired reports whether the session's auth life has passed at now, so
// that the subject must authenticate again (login/auth_life, docs/api.md §4).
func AuthExpired(sess *store.SubjectSession, now time.Time) bool {
	return sess.AuthLife >= 0 && !now.Before(sess.AuthTime.Add(sess.AuthLife))
}

// Create starts a new session for a login and returns it with the session ID
// for the UI's cookie. When the subject already has QuotaPerSubject live
// sessions, the oldest are closed first.
func (s *Service) Create(ctx context.Context, l Login) (*store.SubjectSession, string, error) {
	if l.Sub == "" {
		return nil, "", errors.New("create subject session: empty subject")
	}
	now := s.now()
	key, err := secret.Token(s.Rand, 16)
	if err != nil {
		return nil, "", fmt.Errorf("create subject session: %w", err)
	}
	authTime := l.AuthTime.UTC()
	if l.AuthTime.IsZero() {
		authTime = now
	}
	sess := &store.SubjectSession{
		ID:         key,
		Subject:    l.Sub,
		AuthTime:   authTime,
		ACR:        l.ACR,
		AMR:        slices.Clone(l.AMR),
		MaxLife:    lifetime(l.MaxLife, s.Config.MaxLife, DefaultMaxLife),
		AuthLife:   lifetime(l.AuthLife, s.Config.AuthLife, DefaultAuthLife),
		MaxIdle:    lifetime(l.MaxIdle, s.Config.MaxIdle, DefaultMaxIdle),
		Claims:     l.Claims,
		Data:       l.Data,
		Ctx:        l.Ctx,
		FPT:        l.FPT,
		CreatedAt:  now,
		LastUsedAt: now,
	}
	if sess.Ctx == "" {
		sess.Ctx = CtxWeb
	}
	sess.ExpiresAt = expiry(sess)
	if err := s.enforceQuota(ctx, l.Sub, now); err != nil {
		return nil, "", err
	}
	if err := s.Store.Create(ctx, sess); err != nil {
		return nil, "", fmt.Errorf("create subject session: %w", err)
	}
	return sess, SIDForKey(s.MACKey, key), nil
}

// enforceQuota closes the subject's oldest sessions so that one more fits
// (Connect2id's sessionStore.onQuotaExhaustion=CLOSE_OLD_SESSION): a new
// login must not fail because old browsers were never logged out.
func (s *Service) enforceQuota(ctx context.Context, sub string, now time.Time) error {
	quota := s.quota()
	if quota < 0 {
		return nil
	}
	live, err := s.Store.ListBySubject(ctx, sub, now)
	if err != nil {
		return fmt.Errorf("list subject sessions: %w", err)
	}
	for i := 0; i <= len(live)-quota; i++ {
		old, err := s.Store.Delete(ctx, live[i].ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // ended meanwhile, and notified by whoever ended it
		}
		if err != nil {
			return fmt.Errorf("close old subject session: %w", err)
		}
		s.ended(ctx, old, EndQuota)
	}
	return nil
}

func (s *Service) quota() int {
	switch q := s.Config.QuotaPerSubject; {
	case q == 0:
		return DefaultQuota
	case q > MaxQuota:
		return MaxQuota
	default:
		return q
	}
}

// Get returns the live session for a session ID and records its use, which
// extends the idle deadline. It returns an error wrapping ErrNotFound when
// the ID is forged, unknown or expired.
func (s *Service) Get(ctx context.Context, sid string) (*store.SubjectSession, error) {
	key, ok := KeyForSID(s.MACKey, sid)
	if !ok {
		return nil, ErrNotFound
	}
	return s.GetByKey(ctx, key)
}

// GetByKey is Get for a key whose MAC was already checked (the core keeps
// keys, never cookie values, in its own records).
func (s *Service) GetByKey(ctx context.Context, key string) (*store.SubjectSession, error) {
	return s.touch(ctx, key, "get subject session", func(*store.SubjectSession, time.Time) error { return nil })
}

// Reauthenticate records a new authentication of the session's own subject:
// auth time, ACR and AMR are replaced, claims and data merged. The session
// ID does not change. It fails with ErrNotFound if the session is gone and
// with ErrOtherSubject if l.Sub is another subject (callers end the session
// and Create instead).
func (s *Service) Reauthenticate(ctx context.Context, key string, l Login) (*store.SubjectSession, error) {
	return s.touch(ctx, key, "reauthenticate subject session", func(sess *store.SubjectSession, now time.Time) error {
		if sess.Subject != l.Sub {
			return ErrOtherSubject
		}
		sess.AuthTime = l.AuthTime.UTC()
		if l.AuthTime.IsZero() {
			sess.AuthTime = now
		}
		sess.ACR = l.ACR
		sess.AMR = slices.Clone(l.AMR)
		sess.Claims = merge(sess.Claims, l.Claims)
		sess.Data = merge(sess.Data, l.Data)
		if l.FPT != "" {
			sess.FPT = l.FPT
		}
		if l.MaxLife != nil && *l.MaxLife != 0 {
			sess.MaxLife = lifetime(l.MaxLife, 0, 0)
		}
		if l.AuthLife != nil && *l.AuthLife != 0 {
			sess.AuthLife = lifetime(l.AuthLife, 0, 0)
		}
		if l.MaxIdle != nil && *l.MaxIdle != 0 {
			sess.MaxIdle = lifetime(l.MaxIdle, 0, 0)
		}
		return nil
	})
}

// touch applies change to a live session as one use of it: the idle timer
// restarts and the expiry follows. An expired or unknown session is
// ErrNotFound; an error from change aborts the update and is returned.
func (s *Service) touch(ctx context.Context, key, op string, change func(*store.SubjectSession, time.Time) error) (*store.SubjectSession, error) {
	now := s.now()
	sess, err := s.Store.Update(ctx, key, now, func(sess *store.SubjectSession) error {
		if Expired(sess, now) {
			return ErrNotFound
		}
		if err := change(sess, now); err != nil {
			return err
		}
		sess.LastUsedAt = now
		sess.ExpiresAt = expiry(sess)
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return sess, nil
}

func merge(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// errRPListed aborts AddRP's update when the client is already listed.
var errRPListed = errors.New("client already listed")

// AddRP records that a client received tokens in the session (for logout
// notifications). Adding a client twice is a no-op, and writes nothing:
// a returning user's every code flow lands here (docs/performance.md).
func (s *Service) AddRP(ctx context.Context, key, clientID string) error {
	now := s.now()
	_, err := s.Store.Update(ctx, key, now, func(sess *store.SubjectSession) error {
		if slices.Contains(sess.RPs, clientID) {
			return errRPListed
		}
		sess.RPs = append(sess.RPs, clientID)
		return nil
	})
	if errors.Is(err, errRPListed) {
		return nil
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return fmt.Errorf("add RP to subject session: %w", err)
	}
	return nil
}

// End closes the session with the given ID (logout) and returns it as it
// was. A forged or unknown ID gives ErrNotFound.
func (s *Service) End(ctx context.Context, sid string) (*store.SubjectSession, error) {
	key, ok := KeyForSID(s.MACKey, sid)
	if !ok {
		return nil, ErrNotFound
	}
	return s.EndKey(ctx, key)
}

// EndKey is End for a key whose MAC was already checked. Of concurrent
// calls for one session exactly one succeeds (and reports it to Ended);
// the others get ErrNotFound.
func (s *Service) EndKey(ctx context.Context, key string) (*store.SubjectSession, error) {
	sess, err := s.Store.Delete(ctx, key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("end subject session: %w", err)
	}
	s.ended(ctx, sess, EndLogout)
	return sess, nil
}

// TakeExpired removes up to limit sessions that expired at or before now
// and reports each to Ended; the purge loop calls it with now set back by
// its margin. It returns how many it took.
func (s *Service) TakeExpired(ctx context.Context, now time.Time, limit int) (int, error) {
	taken, err := s.Store.TakeExpired(ctx, now, limit)
	for _, sess := range taken {
		s.ended(ctx, sess, EndExpired)
	}
	if err != nil {
		return len(taken), fmt.Errorf("take expired subject sessions: %w", err)
	}
	return len(taken), nil
}

// List returns the subject's live sessions, oldest first.
func (s *Service) List(ctx context.Context, sub string) ([]*store.SubjectSession, error) {
	out, err := s.Store.ListBySubject(ctx, sub, s.now())
	if err != nil {
		return nil, fmt.Errorf("list subject sessions: %w", err)
	}
	return out, nil
}

// Peek returns the live session for a key without recording a use, so
// that the idle timer does not move (the session store API's
// skip_last_used_update).
func (s *Service) Peek(ctx context.Context, key string) (*store.SubjectSession, error) {
	now := s.now()
	sess, err := s.Store.Get(ctx, key, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("get subject session: %w", err)
	}
	if Expired(sess, now) {
		return nil, ErrNotFound
	}
	return sess, nil
}

// Change is an update of a session's mutable members through the session
// store API; nil fields stay as they are. Lifetimes are in minutes as the
// wire gives them: negative is unlimited, 0 the configured value.
type Change struct {
	AuthLife *int64
	MaxLife  *int64
	MaxIdle  *int64
	Claims   *map[string]any
	Data     *map[string]any
}

// Update applies a change to a live session without counting it as a use
// (the idle timer stays), and keeps the expiry consistent. A change that
// makes the session expired at once is applied: the session is then gone
// for every reader, and the purge notifies its clients.
func (s *Service) Update(ctx context.Context, key string, c Change) (*store.SubjectSession, error) {
	now := s.now()
	sess, err := s.Store.Update(ctx, key, now, func(sess *store.SubjectSession) error {
		if Expired(sess, now) {
			return ErrNotFound
		}
		if c.AuthLife != nil {
			sess.AuthLife = lifetime(c.AuthLife, s.Config.AuthLife, DefaultAuthLife)
		}
		if c.MaxLife != nil {
			sess.MaxLife = lifetime(c.MaxLife, s.Config.MaxLife, DefaultMaxLife)
		}
		if c.MaxIdle != nil {
			sess.MaxIdle = lifetime(c.MaxIdle, s.Config.MaxIdle, DefaultMaxIdle)
		}
		if c.Claims != nil {
			sess.Claims = *c.Claims
		}
		if c.Data != nil {
			sess.Data = *c.Data
		}
		sess.ExpiresAt = expiry(sess)
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("update subject session: %w", err)
	}
	return sess, nil
}

// RemoveRP takes a client off the session's relying parties (an RP-only
// logout, OpenID Connect RP-Initiated Logout 1.0 §2, where the user stays
// signed in at the provider). It reports whether the client was listed.
func (s *Service) RemoveRP(ctx context.Context, key, clientID string) (bool, error) {
	now := s.now()
	removed := false
	_, err := s.Store.Update(ctx, key, now, func(sess *store.SubjectSession) error {
		i := slices.Index(sess.RPs, clientID)
		removed = i >= 0
		if removed {
			sess.RPs = slices.Delete(sess.RPs, i, i+1)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, ErrNotFound
		}
		return false, fmt.Errorf("remove RP from subject session: %w", err)
	}
	return removed, nil
}
