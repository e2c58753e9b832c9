package authz

import (
	"context"
	"encoding/base64"
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
	// Replay records the pushed requests whose flow completed; with it a
	// request_uri may be used again until then (a reload, RFC 9126 §4).
	// Nil keeps a request_uri single use from the first start.
	Replay         store.ReplayCache
	Authorizations store.AuthorizationStore
	IDTokens       IDTokenVerifier
	// RequestObjects verifies request objects (RFC 9101); nil refuses
	// them with request_not_supported.
	RequestObjects RequestObjectVerifier
	// RequestURIs fetches request objects by reference; nil refuses
	// request_uri values other than our pushed ones.
	RequestURIs RequestURIFetcher
	// Responses signs JWT-secured authorisation responses (JARM); nil
	// refuses the JWT response modes.
	Responses ResponseSigner
	// Tokens mints the tokens of direct authorisations (Direct); the
	// authorisation session API does not use it.
	Tokens TokenIssuer
	// Sealer encrypts the kept final message, which carries the code. When
	// nil, successful final messages are not kept and an identical
	// re-submission after Done is rejected like any other.
	Sealer *secret.Sealer
	// PairwiseSalt derives the subject a pairwise client knows
	// (clientreg.ClientSubject), to match its id_token_hint; every node
	// must have the same (secret.Keys.PairwiseSalt).
	PairwiseSalt []byte
	Now          func() time.Time
	Rand         io.Reader
	Log          *slog.Logger
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
	if req.FPT != "" && !validFPT(req.FPT) {
		return nil, oauth.InvalidRequest("fpt must be a BASE64URL-encoded SHA-256 hash")
	}
	if req.RedirectURITemplateParam != "" && !ValidTemplateParam(req.RedirectURITemplateParam) {
		return nil, oauth.InvalidRequest("redirect_uri_template_param must be a DNS label (letters, digits, hyphens)")
	}
	// Input no client legitimately sends is refused before the pipeline,
	// without a redirect: the request cannot be trusted enough to echo its
	// state to its redirect URI (docs/api.md §23).
	if oe := checkRawQuery(req.Query); oe != nil {
		return errorMessage(oe), nil
	}
	params := parseQuery(req.Query)
	if oe := oauth.CheckParams(params, oauth.ParamLimits{ValueSizes: true}); oe != nil {
		return errorMessage(oe), nil
	}
	f := &flow{params: params, now: s.now(), templateParam: req.RedirectURITemplateParam}
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
	var extra []string
	if sess != nil && sess.FPT != "" && req.FPT != sess.FPT {
		// The session was created on another user agent: its cookie was
		// copied or stolen. End it and ask for authentication (Connect2id
		// 18.0's fpt).
		if _, err := s.SubjectSessions.EndKey(ctx, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("start authorisation session: end session of another fingerprint: %w", err)
		}
		s.log().InfoContext(ctx, "subject session ended: fingerprint mismatch")
		sess, extra = nil, []string{CheckFingerprint}
	}
	id, err := secret.Token(s.Rand, 32)
	if err != nil {
		return nil, fmt.Errorf("start authorisation session: %w", err)
	}
	a := &store.AuthzSession{
		ID: id, State: store.AuthzStateAuthPending, Request: f.req,
		FPT: req.FPT, RedirectTemplateParam: req.RedirectURITemplateParam,
		CreatedAt: f.now, ExpiresAt: f.now.Add(s.cfg().SessionLifetime),
	}
	msg, err := s.decideLogin(ctx, a, f.client, sess, f.hintSub, extra...)
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

// validFPT checks a BASE64URL SHA-256 hash: 43 characters of the base64url
// alphabet without padding.
func validFPT(v string) bool {
	if len(v) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == 32
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
	a, err := s.loadPending(ctx, sid)
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
// RFC 6749 §4.1.2.1 (else invalid_request, HTTP 400). A session that has
// reached its final response is gone (store.ErrNotFound), as in Connect2id.
func (s *Service) Cancel(ctx context.Context, sid string, code, desc, uri string) (*Message, error) {
	if code == "" {
		code = oauth.ErrCodeAccessDenied
	}
	if !oauth.ValidErrorCode(code) || !oauth.ValidErrorCode(desc) || !oauth.ValidErrorCode(uri) {
		return nil, oauth.InvalidRequest("illegal characters in error, error_description or error_uri")
	}
	a, err := s.loadPending(ctx, sid)
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

// loadPending is load for the resources that exist only until the final
// response: GET, DELETE and /data of a completed session are 404, as in
// Connect2id.
func (s *Service) loadPending(ctx context.Context, sid string) (*store.AuthzSession, error) {
	a, err := s.load(ctx, sid)
	if err != nil {
		return nil, err
	}
	if isFinal(a.State) {
		return nil, fmt.Errorf("authorisation session complete: %w", store.ErrNotFound)
	}
	return a, nil
}

// MaxDataBytes bounds the JSON encoding of an authorisation session's data
// object (PUT /{sid}/data): it travels in every prompt and GET.
const MaxDataBytes = 16 << 10

// Data returns the data object of a pending authorisation session
// (GET /authz-sessions/rest/v3/{sid}/data); {} when none was set.
func (s *Service) Data(ctx context.Context, sid string) (map[string]any, error) {
	a, err := s.loadPending(ctx, sid)
	if err != nil {
		return nil, err
	}
	if a.Data == nil {
		return map[string]any{}, nil
	}
	return a.Data, nil
}

// PutData replaces the data object of a pending authorisation session
// (PUT /authz-sessions/rest/v3/{sid}/data). The body must be a JSON object
// of at most MaxDataBytes; the data is echoed in the later auth and consent
// prompts and the GET object.
func (s *Service) PutData(ctx context.Context, sid string, body []byte) (map[string]any, error) {
	if len(body) > MaxDataBytes {
		return nil, oauth.InvalidRequest(fmt.Sprintf("the data object must not exceed %d bytes", MaxDataBytes))
	}
	var data map[string]any
	if err := strictUnmarshal(body, &data); err != nil || data == nil {
		return nil, oauth.InvalidRequest("the data must be a JSON object")
	}
	if _, err := s.loadPending(ctx, sid); err != nil {
		return nil, err
	}
	_, err := s.Sessions.Update(ctx, sid, s.now(), func(cur *store.AuthzSession) error {
		if isFinal(cur.State) {
			return fmt.Errorf("authorisation session complete: %w", store.ErrNotFound)
		}
		cur.Data = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update authorisation session data: %w", err)
	}
	return data, nil
}
