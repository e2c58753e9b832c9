package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/plugin"
)

// DefaultTimeout bounds one web-hook call when the configuration sets none.
const DefaultTimeout = 5 * time.Second

// MaxResponseBytes limits how much of a hook's response is read.
const MaxResponseBytes = 1 << 20

// ClaimsSourceConfig configures the HTTP claims source.
type ClaimsSourceConfig struct {
	// URL of the hook; https is required unless the host is a loopback
	// address or AllowInsecureHTTP is set. It must not carry credentials.
	URL string
	// BearerToken, when set, is sent as "Authorization: Bearer …".
	BearerToken string
	// HMACSecret, when set, signs every request (see Sign).
	HMACSecret []byte
	// Timeout bounds each call; DefaultTimeout when zero.
	Timeout time.Duration
	// SupportedClaims are the claim names (or "prefix*" patterns) the hook
	// serves; the claims core routes only these to it. Required.
	SupportedClaims []string
	// IncludeScope adds the request's scope to the hook request.
	IncludeScope bool
	// IncludeSubjectSessionID adds the subject session ID ("sub_sid").
	IncludeSubjectSessionID bool
	// HTTPClient is used for the calls; when nil a dedicated client that
	// does not follow redirects is built (never http.DefaultClient).
	HTTPClient *http.Client
	// AllowInsecureHTTP permits an http:// URL to a non-loopback host.
	AllowInsecureHTTP bool
	// RequestID, when set, reads a request ID from the context to send as
	// X-Request-Id.
	RequestID func(context.Context) string
	// Now is the clock for the signature timestamp; time.Now when nil.
	Now func() time.Time
}

// ClaimsSource is a plugin.ClaimsSource backed by a web hook. It is safe for
// concurrent use.
type ClaimsSource struct {
	cfg  ClaimsSourceConfig
	hook caller
}

var (
	_ plugin.ClaimsSource    = (*ClaimsSource)(nil)
	_ plugin.ClaimsSupporter = (*ClaimsSource)(nil)
)

// NewClaimsSource validates cfg and returns the claims source.
func NewClaimsSource(cfg ClaimsSourceConfig) (*ClaimsSource, error) {
	u, err := validateURL(cfg.URL, cfg.AllowInsecureHTTP)
	if err != nil {
		return nil, fmt.Errorf("claims web hook: %w", err)
	}
	if len(cfg.SupportedClaims) == 0 {
		return nil, errors.New("claims web hook: supported claims must be listed")
	}
	for _, c := range cfg.SupportedClaims {
		if c == "" || c == "sub" || strings.Contains(strings.TrimSuffix(c, "*"), "*") {
			return nil, fmt.Errorf("claims web hook: invalid supported claim %q", c)
		}
	}
	if cfg.Timeout < 0 {
		return nil, errors.New("claims web hook: negative timeout")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.SupportedClaims = slices.Clone(cfg.SupportedClaims)
	cfg.HMACSecret = slices.Clone(cfg.HMACSecret)
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{
			// A redirect would re-send the bearer token somewhere we were
			// not configured to trust; treat it as the hook's answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &ClaimsSource{cfg: cfg, hook: caller{
		client: client, url: u.String(), timeout: cfg.Timeout,
		bearerToken: cfg.BearerToken, hmacSecret: cfg.HMACSecret, now: cfg.Now, requestID: cfg.RequestID,
	}}, nil
}

func validateURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("URL must be absolute with a host")
	}
	if u.User != nil {
		return nil, errors.New("URL must not carry credentials; use the bearer token")
	}
	if u.Fragment != "" {
		return nil, errors.New("URL must not have a fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecure && !isLoopback(u.Hostname()) {
			return nil, errors.New("URL must use https (http is allowed only for loopback hosts or with allow insecure HTTP)")
		}
	default:
		return nil, fmt.Errorf("URL scheme %q is not http(s)", u.Scheme)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SupportedClaims implements plugin.ClaimsSupporter.
func (s *ClaimsSource) SupportedClaims() []string { return slices.Clone(s.cfg.SupportedClaims) }

// claimsRequest is the hook's request body (Connect2id HTTP claims source).
type claimsRequest struct {
	Issuer     string         `json:"iss"`
	Subject    string         `json:"sub"`
	Claims     []string       `json:"claims"`
	Transport  string         `json:"claims_transport,omitempty"`
	ClaimsData map[string]any `json:"claims_data,omitempty"`
	Locales    []string       `json:"claims_locales,omitempty"`
	Scope      []string       `json:"scope,omitempty"`
	SubjectSID string         `json:"sub_sid,omitempty"`
}

// Claims implements plugin.ClaimsSource: it POSTs the request to the hook
// and returns the requested claims from its UserInfo-shaped answer.
//
// A 404 means the hook does not know the subject: an empty map. A transport
// failure, timeout or 5xx is an *oauth.Error temporarily_unavailable whose
// cause is the underlying error (so errors.Is finds context.Canceled or
// context.DeadlineExceeded); any other status, an oversized or malformed
// body, or a "sub" other than the requested subject is a plain error.
// An empty claim list returns an empty map without a call.
func (s *ClaimsSource) Claims(ctx context.Context, req plugin.ClaimsRequest) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.unavailable(err)
	}
	if len(req.Claims) == 0 {
		return map[string]any{}, nil
	}
	body := claimsRequest{
		Issuer:     req.Issuer,
		Subject:    req.Subject,
		Claims:     req.Claims,
		Transport:  req.Transport,
		ClaimsData: req.ClaimsData,
		Locales:    req.Locales,
	}
	if s.cfg.IncludeScope {
		body.Scope = req.Scope
	}
	if s.cfg.IncludeSubjectSessionID {
		body.SubjectSID = req.SubjectSessionID
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("claims web hook: encode request: %w", err)
	}
	status, data, err := s.hook.post(ctx, payload)
	if err != nil {
		var b *buildError
		if errors.As(err, &b) {
			return nil, fmt.Errorf("claims web hook: %w", err)
		}
		return nil, s.unavailable(err)
	}
	switch {
	case status == http.StatusNotFound:
		return map[string]any{}, nil
	case status >= 500:
		return nil, s.unavailable(fmt.Errorf("status %d", status))
	case status < 200 || status > 299:
		return nil, fmt.Errorf("claims web hook: unexpected status %d", status)
	}
	if len(data) > MaxResponseBytes {
		return nil, fmt.Errorf("claims web hook: response larger than %d bytes", MaxResponseBytes)
	}
	claims, err := DecodeClaimsResponse(data, req.Subject, req.Claims)
	if err != nil {
		return nil, fmt.Errorf("claims web hook: %w", err)
	}
	return claims, nil
}

func (s *ClaimsSource) unavailable(cause error) error {
	return oauth.TemporarilyUnavailable("the claims source is unavailable").
		WithCause(fmt.Errorf("claims web hook: %w", cause))
}

// DecodeClaimsResponse decodes a hook's UserInfo-shaped JSON object (OIDC
// Core §5.3.2) and keeps only the requested claims. A "sub" member must
// equal subject; it is never returned.
func DecodeClaimsResponse(data []byte, subject string, requested []string) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var all map[string]any
	if err := dec.Decode(&all); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	if all == nil {
		return nil, errors.New("decode response: not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode response: trailing data after the JSON object")
	}
	if sub, ok := all["sub"]; ok {
		if s, isString := sub.(string); !isString || s != subject {
			return nil, errors.New("response sub does not match the requested subject")
		}
	}
	out := make(map[string]any, len(requested))
	for _, name := range requested {
		if name == "sub" {
			continue
		}
		if v, ok := all[name]; ok {
			out[name] = v
		}
	}
	return out, nil
}
