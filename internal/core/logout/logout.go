package logout

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/internal/core/idhint"
	"github.com/keyward/keyward/internal/core/session"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// Token revocation modes of logout.revoke_tokens.
const (
	// RevokeOnline revokes the grants issued in the session without
	// offline_access: their refresh tokens were meant to live only while
	// the user is signed in (OIDC Core §11).
	RevokeOnline = "online"
	// RevokeAll revokes every grant issued in the session.
	RevokeAll = "all"
	// RevokeNone revokes nothing.
	RevokeNone = "none"
)

// Defaults.
const (
	// DefaultSessionLifetime is how long a confirmation may wait for the
	// user (Connect2id's op.logout.sessionLifetime, 10 min).
	DefaultSessionLifetime = 10 * time.Minute
	// DefaultTokenLifetime is the logout token's exp - iat (Connect2id: 5
	// min); short, as Back-Channel Logout 1.0 §2.4 advises.
	DefaultTokenLifetime = 5 * time.Minute
	// TokenType is the JWS typ of logout tokens (Back-Channel Logout 1.0
	// §2.4, explicit typing of RFC 8725 §3.11).
	TokenType = "logout+jwt"
	// BackChannelEvent is the event member of a logout token (§2.4).
	BackChannelEvent = "http://schemas.openid.net/event/backchannel-logout"
)

// Error codes of the logout session API beyond OAuth's invalid_request
// (Connect2id's logout session API uses the same).
const (
	ErrCodeInvalidIDTokenHint = "invalid_id_token_hint"
	ErrCodeHintSubMismatch    = "id_token_hint_sub_mismatch"
)

// maxQuery bounds the end-session request's query string.
const maxQuery = 16 << 10

// Config configures the service.
type Config struct {
	Issuer string
	// SessionLifetime bounds the wait for the user's confirmation.
	SessionLifetime time.Duration
	// TokenLifetime is the logout token's lifetime.
	TokenLifetime time.Duration
	// RevokeTokens is RevokeOnline (default), RevokeAll or RevokeNone.
	RevokeTokens string
	// IDTokenAlg signs logout tokens for clients that registered no
	// id_token_signed_response_alg (the ID token algorithm, §2.4).
	IDTokenAlg string
	// IDTokenHintAlgs are the JWS algorithms accepted on id_token_hint;
	// default RS256, PS256, ES256, EdDSA.
	IDTokenHintAlgs []string
}

func (c Config) withDefaults() Config {
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.TokenLifetime <= 0 {
		c.TokenLifetime = DefaultTokenLifetime
	}
	if c.RevokeTokens == "" {
		c.RevokeTokens = RevokeOnline
	}
	if c.IDTokenAlg == "" {
		c.IDTokenAlg = oauth.AlgRS256
	}
	if len(c.IDTokenHintAlgs) == 0 {
		c.IDTokenHintAlgs = []string{oauth.AlgRS256, oauth.AlgPS256, oauth.AlgES256, oauth.AlgEdDSA}
	}
	return c
}

// ClientGetter reads registered clients (clientreg's cache).
type ClientGetter interface {
	Get(ctx context.Context, id string) (*store.Client, error)
}

// Keys signs logout tokens and verifies ID token hints (jose.KeyManager).
type Keys interface {
	Sign(alg, typ string, claims any) (string, error)
	Verify(token string, algs []string) ([]byte, error)
}

// Revoker revokes the grants issued in a subject session: of one client,
// or of all when clientID is empty; with all false only those without
// offline_access.
type Revoker interface {
	RevokeSession(ctx context.Context, subject, sessionKey, clientID string, all bool) (int, error)
}

// Notification is one back-channel logout request to deliver: the logout
// token to POST to a client's backchannel_logout_uri.
type Notification struct {
	ClientID string
	URI      string
	Token    string
}

// BackChannel delivers notifications. Send must not block on the
// network: logout never waits for a relying party (Back-Channel Logout
// 1.0 §2.8 lets the OP proceed whatever the RP answers).
type BackChannel interface {
	Send(ctx context.Context, n Notification)
}

// Service is the logout session API and the logout side effects. Build
// it once with all fields; it is safe for concurrent use.
type Service struct {
	Config   Config
	Sessions *session.Service
	Clients  ClientGetter
	Keys     Keys
	// Revoker may be nil when RevokeTokens is RevokeNone.
	Revoker     Revoker
	BackChannel BackChannel
	// Sealer seals pending logout requests; Replay marks them used.
	Sealer *secret.Sealer
	Replay store.ReplayCache
	// PairwiseSalt derives the subject a pairwise client knows
	// (clientreg.ClientSubject), for logout tokens and id_token_hint
	// checks; every node must have the same (secret.Keys.PairwiseSalt).
	PairwiseSalt []byte
	Now          func() time.Time
	Rand         io.Reader
	Log          *slog.Logger
}

func (s *Service) cfg() Config { return s.Config.withDefaults() }

func (s *Service) now() time.Time { return s.Now().UTC() }

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// StartRequest is the POST body of the logout session API: the query
// string the logout page received (empty for a logout the IdP starts)
// and the subject session ID from its cookie.
type StartRequest struct {
	Query  string `json:"query"`
	SubSID string `json:"sub_sid"`
}

// Decision is the PUT body: whether the user also logs out of the
// provider (op_logout; confirm_logout is Connect2id's earlier name).
type Decision struct {
	OPLogout      *bool `json:"op_logout"`
	ConfirmLogout *bool `json:"confirm_logout"`
}

// Message types.
const (
	TypeConfirm = "confirm"
	TypeEnd     = "end"
	TypeError   = "error"
)

// ClientInfo names the client that asked for the logout on the confirm
// page.
type ClientInfo struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name,omitempty"`
	URI      string `json:"uri,omitempty"`
	LogoURI  string `json:"logo_uri,omitempty"`
}

// Message is the tagged union the API answers with (docs/api.md §16):
// confirm (ask the user, then PUT the decision to SID), end (done: load
// FrontChannelURIs, then go to PostLogoutRedirectURI if any) or error
// (show it; redirect nowhere).
type Message struct {
	Type string `json:"type"`

	// confirm
	SID                string               `json:"sid,omitempty"`
	SubSession         *session.SessionView `json:"sub_session,omitempty"`
	Client             *ClientInfo          `json:"client,omitempty"`
	IDTokenHintPresent bool                 `json:"id_token_hint_present,omitempty"`
	LogoutHint         string               `json:"logout_hint,omitempty"`
	UILocales          []string             `json:"ui_locales,omitempty"`

	// end
	SubSessionClosed      *bool    `json:"sub_session_closed,omitempty"`
	FrontChannelURIs      []string `json:"frontchannel_logout_uris,omitempty"`
	PostLogoutRedirectURI string   `json:"post_logout_redirect_uri,omitempty"`

	// error
	Error            string `json:"error,omitempty"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func errorMessage(code, desc string) *Message {
	return &Message{Type: TypeError, Error: code, ErrorDescription: desc}
}

// pending is a logout waiting for the user's confirmation, sealed into
// the confirm message's SID.
type pending struct {
	Key      string `json:"k"`
	ClientID string `json:"c,omitempty"`
	Redirect string `json:"r,omitempty"`
	Exp      int64  `json:"e"`
	Nonce    string `json:"n"`
}

var pendingAD = []byte("keyward logout session v1")

// ErrNotFound is returned for a logout session ID that is unknown,
// forged, expired or already used (HTTP 404).
var ErrNotFound = fmt.Errorf("logout session: %w", store.ErrNotFound)

// Start handles a logout page's request (RP-Initiated Logout 1.0 §2, or a
// logout the provider starts when the query is empty). Request problems
// are answered as error messages, never as Go errors: the page shows them
// and redirects nowhere (§4: the OP must not redirect to an unverified
// post_logout_redirect_uri).
func (s *Service) Start(ctx context.Context, req StartRequest) (*Message, error) {
	if len(req.Query) > maxQuery {
		return errorMessage(oauth.ErrCodeInvalidRequest, "the query string is too long"), nil
	}
	q, err := url.ParseQuery(req.Query)
	if err != nil {
		return errorMessage(oauth.ErrCodeInvalidRequest, "malformed query string"), nil
	}
	key, sess, err := s.subjectSession(ctx, req.SubSID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Query) == "" {
		// Started by the provider, which checked CSRF itself: never
		// confirmed (Connect2id's logout session API does the same).
		return s.end(ctx, sess, key, "", true, "")
	}
	for _, name := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales", "logout_hint"} {
		if len(q[name]) > 1 {
			return errorMessage(oauth.ErrCodeInvalidRequest, "repeated parameter: "+name), nil
		}
	}
	clientID := q.Get("client_id")
	hint := q.Get("id_token_hint")
	var hintSub string
	if hint != "" {
		claims, err := s.verifyHint(hint)
		if err != nil {
			s.log().InfoContext(ctx, "logout: id_token_hint refused", "error", err.Error())
			return errorMessage(ErrCodeInvalidIDTokenHint, "the id_token_hint is not a valid ID token of this provider"), nil
		}
		switch {
		case clientID == "":
			clientID = claims.Client()
			if clientID == "" {
				return errorMessage(ErrCodeInvalidIDTokenHint, "the id_token_hint names no single client; add client_id"), nil
			}
		case !slices.Contains(claims.Aud, clientID):
			return errorMessage(ErrCodeInvalidIDTokenHint, "the id_token_hint was not issued to client_id"), nil
		}
		hintSub = claims.Sub
	}
	var client *store.Client
	if clientID != "" {
		client, err = s.Clients.Get(ctx, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return errorMessage(oauth.ErrCodeInvalidRequest, "unknown client_id"), nil
		}
		if err != nil {
			return nil, fmt.Errorf("logout: get client: %w", err)
		}
	}
	redirect := ""
	if plr := q.Get("post_logout_redirect_uri"); plr != "" {
		if client == nil {
			return errorMessage(oauth.ErrCodeInvalidRequest, "post_logout_redirect_uri needs client_id or id_token_hint"), nil
		}
		if !slices.Contains(client.Metadata.PostLogoutRedirectURIs, plr) {
			return errorMessage(oauth.ErrCodeInvalidRequest, "post_logout_redirect_uri is not registered for the client"), nil
		}
		redirect = withState(plr, q.Get("state"))
	}
	if sess != nil && hintSub != "" && clientreg.ClientSubject(s.PairwiseSalt, client, sess.Subject) != hintSub {
		return errorMessage(ErrCodeHintSubMismatch, "the id_token_hint is for another user than the one signed in"), nil
	}
	if sess == nil {
		// Nobody is signed in here: nothing to confirm (§2 lets the OP
		// skip the question), and the redirect stays allowed.
		return s.end(ctx, nil, "", clientID, false, redirect)
	}
	p := pending{Key: key, Redirect: redirect, Exp: s.now().Add(s.cfg().SessionLifetime).Unix()}
	if client != nil {
		p.ClientID = client.ID
	}
	if p.Nonce, err = secret.Token(s.Rand, 16); err != nil {
		return nil, fmt.Errorf("logout: nonce: %w", err)
	}
	sid, err := s.seal(&p)
	if err != nil {
		return nil, err
	}
	view := s.Sessions.View(sess, "")
	m := &Message{
		Type: TypeConfirm, SID: sid, SubSession: &view,
		IDTokenHintPresent: hint != "", LogoutHint: q.Get("logout_hint"),
	}
	if v := q.Get("ui_locales"); v != "" {
		m.UILocales = strings.Fields(v)
	}
	if client != nil {
		m.Client = &ClientInfo{ClientID: client.ID, Name: client.Metadata.ClientName, URI: client.Metadata.ClientURI, LogoURI: client.Metadata.LogoURI}
	}
	return m, nil
}

// Submit applies the user's decision on a pending logout, once: a second
// submission of the same SID is ErrNotFound.
func (s *Service) Submit(ctx context.Context, sid string, d Decision) (*Message, error) {
	p, err := s.open(sid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	used, err := s.Replay.MarkUsed(ctx, secret.Hash("logout session:"+p.Nonce), time.Unix(p.Exp+1, 0), now)
	if err != nil {
		return nil, fmt.Errorf("logout: mark session used: %w", err)
	}
	if used {
		return nil, ErrNotFound
	}
	op := d.OPLogout
	if op == nil {
		op = d.ConfirmLogout
	}
	opLogout := op != nil && *op
	sess, err := s.Sessions.Peek(ctx, p.Key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return s.end(ctx, sess, p.Key, p.ClientID, opLogout, p.Redirect)
}

// end finishes a logout. With opLogout the subject session ends (its
// clients are notified through SessionEnded); otherwise only clientID is
// logged out: taken off the session's relying parties and notified.
func (s *Service) end(ctx context.Context, sess *store.SubjectSession, key, clientID string, opLogout bool, redirect string) (*Message, error) {
	closed := false
	var front []string
	switch {
	case sess == nil:
	case opLogout:
		ended, err := s.Sessions.EndKey(ctx, key)
		switch {
		case err == nil:
			closed = true
			front = s.frontChannel(ctx, ended, ended.RPs)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	case clientID != "":
		removed, err := s.Sessions.RemoveRP(ctx, key, clientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if removed {
			s.revoke(ctx, sess, clientID)
			s.backChannel(ctx, sess, []string{clientID})
			front = s.frontChannel(ctx, sess, []string{clientID})
		}
	}
	return &Message{Type: TypeEnd, SubSessionClosed: &closed, FrontChannelURIs: front, PostLogoutRedirectURI: redirect}, nil
}

// SessionEnded is session.Service's Ended hook: it revokes what the
// session produced (logout.revoke_tokens) and queues a back-channel
// logout to each of its relying parties that registered one. Failures are
// logged; the session is gone whatever happens here.
func (s *Service) SessionEnded(ctx context.Context, sess *store.SubjectSession, why session.EndReason) {
	s.revoke(ctx, sess, "")
	s.backChannel(ctx, sess, sess.RPs)
}

func (s *Service) revoke(ctx context.Context, sess *store.SubjectSession, clientID string) {
	mode := s.cfg().RevokeTokens
	if mode == RevokeNone || s.Revoker == nil {
		return
	}
	n, err := s.Revoker.RevokeSession(ctx, sess.Subject, sess.ID, clientID, mode == RevokeAll)
	if err != nil {
		s.log().WarnContext(ctx, "logout: revoke the session's tokens", "session", session.PublicID(sess.ID), "error", err.Error())
		return
	}
	if n > 0 {
		s.log().InfoContext(ctx, "logout: revoked the session's grants", "session", session.PublicID(sess.ID), "grants", n, "mode", mode)
	}
}

// backChannel queues a logout token for each of clients that registered
// a backchannel_logout_uri.
func (s *Service) backChannel(ctx context.Context, sess *store.SubjectSession, clients []string) {
	if s.BackChannel == nil {
		return
	}
	for _, id := range clients {
		c, err := s.Clients.Get(ctx, id)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				s.log().WarnContext(ctx, "logout: get client for back-channel logout", "client_id", id, "error", err.Error())
			}
			continue
		}
		if c.Metadata.BackchannelLogoutURI == "" {
			continue
		}
		tok, err := s.LogoutToken(c, sess)
		if err != nil {
			s.log().ErrorContext(ctx, "logout: sign logout token", "client_id", id, "error", err.Error())
			continue
		}
		s.BackChannel.Send(ctx, Notification{ClientID: id, URI: c.Metadata.BackchannelLogoutURI, Token: tok})
	}
}

// LogoutClaims are the claims of a logout token (Back-Channel Logout 1.0
// §2.4). It never carries a nonce (§2.4: "MUST NOT").
type LogoutClaims struct {
	Issuer   string                    `json:"iss"`
	Audience []string                  `json:"aud"`
	IssuedAt int64                     `json:"iat"`
	Expiry   int64                     `json:"exp"`
	ID       string                    `json:"jti"`
	Events   map[string]map[string]any `json:"events"`
	Subject  string                    `json:"sub"`
	// SessionID is the ID token's sid (session.PublicID): Keyward's ID
	// tokens always carry it, so it is always sent, which satisfies
	// backchannel_logout_session_required.
	SessionID string `json:"sid"`
}

// LogoutToken signs the logout token for client about sess, with the
// client's ID token algorithm.
func (s *Service) LogoutToken(c *store.Client, sess *store.SubjectSession) (string, error) {
	cfg := s.cfg()
	jti, err := secret.Token(s.Rand, 16)
	if err != nil {
		return "", err
	}
	now := s.now()
	claims := LogoutClaims{
		Issuer: cfg.Issuer, Audience: []string{c.ID}, IssuedAt: now.Unix(), Expiry: now.Add(cfg.TokenLifetime).Unix(), ID: jti,
		Events:  map[string]map[string]any{BackChannelEvent: {}},
		Subject: clientreg.ClientSubject(s.PairwiseSalt, c, sess.Subject), SessionID: session.PublicID(sess.ID),
	}
	alg := c.Metadata.IDTokenSignedResponseAlg
	if alg == "" {
		alg = cfg.IDTokenAlg
	}
	return s.Keys.Sign(alg, TokenType, claims)
}

// frontChannel returns the front-channel logout URIs of clients
// (Front-Channel Logout 1.0 §2), each with iss and sid.
func (s *Service) frontChannel(ctx context.Context, sess *store.SubjectSession, clients []string) []string {
	var out []string
	for _, id := range clients {
		c, err := s.Clients.Get(ctx, id)
		if err != nil || c.Metadata.FrontchannelLogoutURI == "" {
			continue
		}
		u, err := url.Parse(c.Metadata.FrontchannelLogoutURI)
		if err != nil {
			continue
		}
		q := u.Query()
		q.Set("iss", s.cfg().Issuer)
		q.Set("sid", session.PublicID(sess.ID))
		u.RawQuery = q.Encode()
		out = append(out, u.String())
	}
	return out
}

// withState adds state to a post-logout redirect URI (RP-Initiated
// Logout 1.0 §3), keeping the URI's own query.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String()
}

// subjectSession finds the live session a cookie value names; an absent,
// forged or expired one is no session (not an error: the logout still
// proceeds, as with Connect2id).
func (s *Service) subjectSession(ctx context.Context, subSID string) (string, *store.SubjectSession, error) {
	if subSID == "" {
		return "", nil, nil
	}
	key, ok := session.KeyForSID(s.Sessions.MACKey, subSID)
	if !ok {
		return "", nil, nil
	}
	sess, err := s.Sessions.Peek(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return key, sess, nil
}

// verifyHint checks an id_token_hint (idhint.Verify). An expired hint is
// accepted (RP-Initiated Logout 1.0 §2: the OP should accept it).
func (s *Service) verifyHint(hint string) (*idhint.Claims, error) {
	return idhint.Verify(s.Keys, s.cfg().Issuer, s.cfg().IDTokenHintAlgs, hint)
}

func (s *Service) seal(p *pending) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("logout: encode session: %w", err)
	}
	ct, err := s.Sealer.Seal(b, pendingAD)
	if err != nil {
		return "", fmt.Errorf("logout: seal session: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

// maxSID bounds a logout session ID before any decoding work.
const maxSID = 4096

// open returns the pending logout sealed into sid, or ErrNotFound.
func (s *Service) open(sid string) (*pending, error) {
	if sid == "" || len(sid) > maxSID {
		return nil, ErrNotFound
	}
	ct, err := base64.RawURLEncoding.DecodeString(sid)
	if err != nil {
		return nil, ErrNotFound
	}
	b, err := s.Sealer.Open(ct, pendingAD)
	if err != nil {
		return nil, ErrNotFound
	}
	var p pending
	if err := json.Unmarshal(b, &p); err != nil || p.Nonce == "" || p.Key == "" {
		return nil, ErrNotFound
	}
	if s.now().Unix() > p.Exp {
		return nil, ErrNotFound
	}
	return &p, nil
}

// DecodeDecision parses a PUT body strictly: unknown members are refused
// by name, so that a typo is not read as "stay signed in".
func DecodeDecision(body []byte) (Decision, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Decision{}, oauth.InvalidRequest("the body must be a JSON object")
	}
	var d Decision
	for k, v := range raw {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return Decision{}, oauth.InvalidRequest(k + " must be a boolean")
		}
		switch k {
		case "op_logout":
			d.OPLogout = &b
		case "confirm_logout":
			d.ConfirmLogout = &b
		default:
			return Decision{}, oauth.InvalidRequest("unknown member: " + safeName(k))
		}
	}
	if d.OPLogout != nil && d.ConfirmLogout != nil && *d.OPLogout != *d.ConfirmLogout {
		return Decision{}, oauth.InvalidRequest("op_logout and confirm_logout disagree")
	}
	return d, nil
}

// safeName keeps a client-supplied member name printable and short in an
// error description (RFC 6749 §5.2 character set).
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			b.WriteString("...")
			break
		}
		if r >= 0x20 && r <= 0x7e && r != '"' && r != '\\' {
			b.WriteRune(r)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
