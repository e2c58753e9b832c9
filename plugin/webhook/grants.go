package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// GrantHandlerConfig configures a grant handler web hook. The fields mean
// what they mean for ClaimsSourceConfig.
type GrantHandlerConfig struct {
	URL               string
	BearerToken       string
	HMACSecret        []byte
	Timeout           time.Duration
	HTTPClient        *http.Client
	AllowInsecureHTTP bool
	RequestID         func(context.Context) string
	Now               func() time.Time
}

// GrantHandler is a grant handler backed by a web hook; one value serves
// every grant kind (plugin.ClientCredentialsHandler, PasswordHandler,
// JWTBearerHandler and SAML2BearerHandler), telling them apart by the
// request's "grant_type". Safe for concurrent use.
//
// The protocol (docs/api.md, "Grant handler web hooks"): Keyward POSTs a
// JSON GrantHookRequest with the bearer token and/or the v1 HMAC
// signature headers of the claims hook; the hook answers 200 with a
// GrantHookAuthorization, or 4xx with an OAuth error object
// {"error": "...", "error_description": "..."} that Keyward returns to the
// client as it is (status 400; 401 for invalid_client). A 5xx, a timeout
// or a transport failure is temporarily_unavailable (503) for the client;
// any other answer is a server_error.
type GrantHandler struct {
	cfg  GrantHandlerConfig
	hook caller
}

var (
	_ plugin.ClientCredentialsHandler = (*GrantHandler)(nil)
	_ plugin.PasswordHandler          = (*GrantHandler)(nil)
	_ plugin.JWTBearerHandler         = (*GrantHandler)(nil)
	_ plugin.SAML2BearerHandler       = (*GrantHandler)(nil)
)

// NewGrantHandler validates cfg and returns the web-hook grant handler.
func NewGrantHandler(cfg GrantHandlerConfig) (*GrantHandler, error) {
	u, err := validateURL(cfg.URL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, fmt.Errorf("grant handler web hook: %w", err)
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("grant handler web hook: negative timeout")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.HMACSecret = slices.Clone(cfg.HMACSecret)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{
			// A redirect would re-send the credentials somewhere we were not
			// configured to trust; treat it as the hook's answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &GrantHandler{cfg: cfg, hook: caller{
		client: client, url: u.String(), timeout: cfg.Timeout,
		bearerToken: cfg.BearerToken, hmacSecret: cfg.HMACSecret, now: cfg.Now, requestID: cfg.RequestID,
	}}, nil
}

// GrantHookClient is the client in a GrantHookRequest.
type GrantHookClient struct {
	ID              string         `json:"client_id"`
	Confidential    bool           `json:"confidential"`
	Scope           []string       `json:"scope,omitempty"`
	ApplicationType string         `json:"application_type,omitempty"`
	Data            map[string]any `json:"data,omitempty"`
}

// GrantHookAssertion is the verified assertion in a GrantHookRequest;
// times are seconds since the epoch, absent when unknown.
type GrantHookAssertion struct {
	Issuer        string         `json:"iss"`
	Subject       string         `json:"sub"`
	SubjectFormat string         `json:"sub_format,omitempty"`
	Audience      []string       `json:"aud,omitempty"`
	ID            string         `json:"jti"`
	IssuedAt      int64          `json:"iat,omitempty"`
	NotBefore     int64          `json:"nbf,omitempty"`
	ExpiresAt     int64          `json:"exp"`
	SelfIssued    bool           `json:"self_issued"`
	Claims        map[string]any `json:"claims,omitempty"`
}

// GrantHookRequest is the body Keyward POSTs to a grant handler hook.
type GrantHookRequest struct {
	Issuer    string              `json:"iss"`
	GrantType string              `json:"grant_type"`
	Client    GrantHookClient     `json:"client"`
	Scope     []string            `json:"scope,omitempty"`
	Params    map[string][]string `json:"params,omitempty"`
	// Username and Password: password grant only.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// Assertion: JWT and SAML 2.0 bearer grants only.
	Assertion *GrantHookAssertion `json:"assertion,omitempty"`
}

// GrantHookAuthorization is a hook's answer, in the shape of Connect2id's
// grant authorisation; lifetimes are seconds.
type GrantHookAuthorization struct {
	Subject     string   `json:"sub,omitempty"`
	Scope       []string `json:"scope,omitempty"`
	Audience    []string `json:"audience,omitempty"`
	AccessToken *struct {
		Lifetime int64  `json:"lifetime,omitempty"`
		Encoding string `json:"encoding,omitempty"`
		// Encrypt is Connect2id's; Keyward does not encrypt access
		// tokens and refuses an answer that asks for it.
		Encrypt bool `json:"encrypt,omitempty"`
	} `json:"access_token,omitempty"`
	RefreshToken *struct {
		Issue    bool  `json:"issue,omitempty"`
		Lifetime int64 `json:"lifetime,omitempty"`
		MaxIdle  int64 `json:"max_idle,omitempty"`
		Rotate   bool  `json:"rotate,omitempty"`
	} `json:"refresh_token,omitempty"`
	IDToken *struct {
		Issue    bool  `json:"issue,omitempty"`
		Lifetime int64 `json:"lifetime,omitempty"`
	} `json:"id_token,omitempty"`
	Claims        []string `json:"claims,omitempty"`
	ClaimsLocales []string `json:"claims_locales,omitempty"`
	PresetClaims  *struct {
		IDToken  map[string]any `json:"id_token,omitempty"`
		UserInfo map[string]any `json:"userinfo,omitempty"`
	} `json:"preset_claims,omitempty"`
	ClaimsData map[string]any `json:"claims_data,omitempty"`
	Data       map[string]any `json:"data,omitempty"`
	// LongLived is Connect2id's; Keyward does not keep long-lived
	// authorisations for these grants yet and refuses an answer that
	// asks for one.
	LongLived bool `json:"long_lived,omitempty"`
}

// HandleClientCredentials implements plugin.ClientCredentialsHandler.
func (h *GrantHandler) HandleClientCredentials(ctx context.Context, req plugin.GrantRequest) (*plugin.Authorization, error) {
	return h.call(ctx, hookRequest(req))
}

// HandlePassword implements plugin.PasswordHandler.
func (h *GrantHandler) HandlePassword(ctx context.Context, req plugin.PasswordRequest) (*plugin.Authorization, error) {
	body := hookRequest(req.GrantRequest)
	body.Username, body.Password = req.Username, req.Password
	return h.call(ctx, body)
}

// HandleJWTBearer implements plugin.JWTBearerHandler.
func (h *GrantHandler) HandleJWTBearer(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error) {
	return h.call(ctx, assertionRequest(req))
}

// HandleSAML2Bearer implements plugin.SAML2BearerHandler.
func (h *GrantHandler) HandleSAML2Bearer(ctx context.Context, req plugin.AssertionRequest) (*plugin.Authorization, error) {
	return h.call(ctx, assertionRequest(req))
}

func hookRequest(r plugin.GrantRequest) GrantHookRequest {
	return GrantHookRequest{
		Issuer: r.Issuer, GrantType: r.GrantType, Scope: r.Scope, Params: r.Params,
		Client: GrantHookClient{ID: r.Client.ID, Confidential: r.Client.Confidential, Scope: r.Client.Scope,
			ApplicationType: r.Client.ApplicationType, Data: r.Client.Data},
	}
}

func assertionRequest(r plugin.AssertionRequest) GrantHookRequest {
	body := hookRequest(r.GrantRequest)
	a := r.Assertion
	body.Assertion = &GrantHookAssertion{
		Issuer: a.Issuer, Subject: a.Subject, SubjectFormat: a.SubjectFormat, Audience: a.Audience, ID: a.ID,
		IssuedAt: unix(a.IssuedAt), NotBefore: unix(a.NotBefore), ExpiresAt: unix(a.ExpiresAt),
		SelfIssued: a.SelfIssued, Claims: a.Claims,
	}
	return body
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (h *GrantHandler) call(ctx context.Context, body GrantHookRequest) (*plugin.Authorization, error) {
	if err := ctx.Err(); err != nil {
		return nil, h.unavailable(err)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("grant handler web hook: encode request: %w", err)
	}
	status, data, err := h.hook.post(ctx, payload)
	if err != nil {
		var b *buildError
		if errors.As(err, &b) {
			return nil, fmt.Errorf("grant handler web hook: %w", err)
		}
		return nil, h.unavailable(err)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("grant handler web hook: response larger than %d bytes", MaxResponseBytes)
	}
	switch {
	case status >= 500:
		return nil, h.unavailable(fmt.Errorf("status %d", status))
	case status >= 400:
		return nil, DecodeGrantError(data, status)
	case status != http.StatusOK:
		return nil, fmt.Errorf("grant handler web hook: unexpected status %d", status)
	}
	a, err := DecodeGrantAuthorization(data)
	if err != nil {
		return nil, fmt.Errorf("grant handler web hook: %w", err)
	}
	return a, nil
}

func (h *GrantHandler) unavailable(cause error) error {
	return oauth.TemporarilyUnavailable("the grant handler is unavailable").
		WithCause(fmt.Errorf("grant handler web hook: %w", cause))
}

// DecodeGrantError turns a hook's 4xx answer into the OAuth error it
// names: status 401 for invalid_client, 400 otherwise. An answer without a
// well-formed "error" is a plain error (a server_error for the client).
func DecodeGrantError(data []byte, status int) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if err := json.Unmarshal(data, &e); err != nil || !oauth.ValidErrorCode(e.Error) {
		return fmt.Errorf("grant handler web hook: status %d without an OAuth error object", status)
	}
	if !printable(e.Description) || len(e.Description) > 1000 {
		e.Description = ""
	}
	code := 400
	if e.Error == oauth.ErrCodeInvalidClient {
		code = 401
	}
	return oauth.Custom(e.Error, code, e.Description)
}

// printable reports whether s may be an error_description: RFC 6749
// §5.2 allows %x20-21 / %x23-5B / %x5D-7E.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// DecodeGrantAuthorization decodes a hook's 200 answer. Unknown members
// are refused, as are Connect2id members Keyward does not implement
// ("long_lived", "access_token.encrypt"), naming them.
func DecodeGrantAuthorization(data []byte) (*plugin.Authorization, error) {
	var w GrantHookAuthorization
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("decode authorization: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode authorization: trailing data after the JSON object")
	}
	if w.LongLived {
		return nil, errors.New("authorization member long_lived is not supported")
	}
	a := &plugin.Authorization{
		Subject: w.Subject, Scope: w.Scope, Audience: w.Audience,
		Claims: w.Claims, ClaimsLocales: w.ClaimsLocales, ClaimsData: w.ClaimsData, Data: w.Data,
	}
	if t := w.AccessToken; t != nil {
		if t.Encrypt {
			return nil, errors.New("authorization member access_token.encrypt is not supported")
		}
		a.AccessToken = plugin.AccessTokenSpec{Lifetime: seconds(t.Lifetime), Encoding: t.Encoding}
	}
	if t := w.RefreshToken; t != nil {
		a.RefreshToken = plugin.RefreshTokenSpec{Issue: t.Issue, Lifetime: seconds(t.Lifetime), MaxIdle: seconds(t.MaxIdle), Rotate: t.Rotate}
	}
	if t := w.IDToken; t != nil {
		a.IDToken = plugin.IDTokenSpec{Issue: t.Issue, Lifetime: seconds(t.Lifetime)}
	}
	if p := w.PresetClaims; p != nil {
		a.PresetIDTokenClaims, a.PresetUserInfoClaims = p.IDToken, p.UserInfo
	}
	if a.AccessToken.Lifetime < 0 || a.RefreshToken.Lifetime < 0 || a.RefreshToken.MaxIdle < 0 || a.IDToken.Lifetime < 0 {
		return nil, errors.New("authorization has a negative lifetime")
	}
	return a, nil
}

// maxLifetimeSeconds keeps a hook's lifetime from overflowing a Duration.
const maxLifetimeSeconds = 100 * 365 * 24 * 3600

func seconds(s int64) time.Duration {
	if s > maxLifetimeSeconds {
		s = maxLifetimeSeconds
	}
	if s < -maxLifetimeSeconds {
		s = -maxLifetimeSeconds
	}
	return time.Duration(s) * time.Second
}
