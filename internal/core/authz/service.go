package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// ClientGetter returns a registered client or an error wrapping
// store.ErrNotFound.
type ClientGetter interface {
	Get(ctx context.Context, id string) (*store.Client, error)
}

// IDTokenVerifier checks the signature of a JWS we issued, allowing only the
// given algorithms, and returns its payload (the key manager).
type IDTokenVerifier interface {
	Verify(token string, algs []string) ([]byte, error)
}

// Service is the authorisation session API. Build it once with all fields
// set (Rand and Log may be nil); it is safe for concurrent use, all state
// being in the stores.
type Service struct {
	Config          Config
	Clients         ClientGetter
	Sessions        store.AuthzSessionStore
	SubjectSessions *session.Service
	Codes           store.CodeStore
	PAR             store.PARStore
	Authorizations  store.AuthorizationStore
	IDTokens        IDTokenVerifier
	// Tokens mints the tokens of direct authorisations (Direct); the
	// authorisation session API does not use it.
	Tokens TokenIssuer
	// Sealer encrypts the kept final message, which carries the code. When
	// nil, successful final messages are not kept and an identical
	// re-submission after Done is rejected like any other.
	Sealer *secret.Sealer
	Now    func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
}

func (s *Service) cfg() Config    { return s.Config.withDefaults() }
func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Start begins an authorisation session for the request in req.Query
// (docs/api.md §3, step 1). Protocol problems with the request are messages,
// not errors: type "error" when the redirect URI cannot be trusted, type
// "response" carrying the error to the client otherwise. The error result is
// for internal failures only.
func (s *Service) Start(ctx context.Context, req StartRequest) (*Message, error) {
	f := &flow{params: parseQuery(req.Query), now: s.now()}
	if err := s.validate(ctx, f, false); err != nil {
		oe := oauth.AsError(err)
		if oe == nil {
			return nil, fmt.Errorf("start authorisation session: %w", err)
		}
		if !f.redirectVerified || !oe.Redirectable() {
			return errorMessage(oe), nil
		}
		return s.requestErrorResponse(f, oe), nil
	}
	var sess *store.SubjectSession
	if req.SubSID != "" {
		var err error
		sess, err = s.SubjectSessions.Get(ctx, req.SubSID)
		if errors.Is(err, store.ErrNotFound) {
			sess = nil
		} else if err != nil {
			return nil, fmt.Errorf("start authorisation session: %w", err)
		}
	}
	id, err := secret.Token(s.Rand, 32)
	if err != nil {
		return nil, fmt.Errorf("start authorisation session: %w", err)
	}
	a := &store.AuthzSession{
		ID: id, State: store.AuthzStateAuthPending, Request: f.req,
		CreatedAt: f.now, ExpiresAt: f.now.Add(s.cfg().SessionLifetime),
	}
	msg, err := s.decideLogin(ctx, a, f.client, sess, f.hintSub)
	if err != nil {
		return nil, fmt.Errorf("start authorisation session: %w", err)
	}
	if a.State == store.AuthzStateAuthPending || a.State == store.AuthzStateConsentPending {
		if err := s.Sessions.Create(ctx, a); err != nil {
			return nil, fmt.Errorf("store authorisation session: %w", err)
		}
	}
	return msg, nil
}

// load returns the live authorisation session or an error wrapping
// store.ErrNotFound (HTTP 404).
func (s *Service) load(ctx context.Context, sid string) (*store.AuthzSession, error) {
	if sid == "" {
		return nil, fmt.Errorf("authorisation session: %w", store.ErrNotFound)
	}
	now := s.now()
	a, err := s.Sessions.Get(ctx, sid, now)
	if err != nil {
		return nil, fmt.Errorf("authorisation session: %w", err)
	}
	if !now.Before(a.ExpiresAt) {
		return nil, fmt.Errorf("authorisation session expired: %w", store.ErrNotFound)
	}
	return a, nil
}

// Get returns the authorisation session object (docs/api.md §3).
// Unknown or expired sessions give an error wrapping store.ErrNotFound.
func (s *Service) Get(ctx context.Context, sid string) (*SessionObject, error) {
	a, err := s.load(ctx, sid)
	if err != nil {
		return nil, err
	}
	obj := &SessionObject{
		SID: a.ID, State: a.State, AuthReq: a.Request, Subject: a.Subject, Data: a.Data,
		CreatedAt: a.CreatedAt.Unix(), ExpiresAt: a.ExpiresAt.Unix(),
	}
	if a.SubjectSessionID != "" {
		sess, err := s.SubjectSessions.GetByKey(ctx, a.SubjectSessionID)
		switch {
		case err == nil:
			v := s.SubjectSessions.View(sess, session.SIDForKey(s.SubjectSessions.MACKey, sess.ID))
			obj.SubSession = &v
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("get authorisation session: %w", err)
		}
	}
	return obj, nil
}

// Cancel ends a pending authorisation session with an error delivered to
// the client (docs/api.md §5, cancel / deny): access_denied by default, or the
// given code, description and URI, which must use the characters of
// RFC 6749 §4.1.2.1 (else invalid_request, HTTP 400). Cancelling a final
// session again with the same values returns the same message.
func (s *Service) Cancel(ctx context.Context, sid string, code, desc, uri string) (*Message, error) {
	if code == "" {
		code = oauth.ErrCodeAccessDenied
	}
	if !oauth.ValidErrorCode(code) || !oauth.ValidErrorCode(desc) || !oauth.ValidErrorCode(uri) {
		return nil, oauth.InvalidRequest("illegal characters in error, error_description or error_uri")
	}
	a, err := s.load(ctx, sid)
	if err != nil {
		return nil, err
	}
	decision := decisionHash("cancel", []byte(code+"\x00"+desc+"\x00"+uri))
	return s.transition(ctx, a, decision, kindCancel, func(a *store.AuthzSession) (*Message, error) {
		e := oauth.Custom(code, 0, desc)
		e.URI = uri
		a.State = store.AuthzStateFailed
		return s.finalError(a, e), nil
	})
}
