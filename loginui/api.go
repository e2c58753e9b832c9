package loginui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxAPIResponse caps what the UI reads from the API: prompts are small, and
// a misbehaving upstream must not exhaust memory.
const maxAPIResponse = 1 << 20

// Errors of the API client, mapped to pages by the handlers.
var (
	// errSessionGone: the authorisation session is unknown or expired
	// (HTTP 404, docs/api.md §6).
	errSessionGone = errors.New("authorisation session not found or expired")
	// errRejected: the API refused the submission (HTTP 400), e.g. a
	// re-posted form after the session already completed.
	errRejected = errors.New("authorisation session API rejected the request")
	// errUpstream: anything else (transport failure, 401, 5xx, bad JSON).
	errUpstream = errors.New("authorisation session API failed")
	// errUnavailable: the API answered 503 (a store or Redis it needs is
	// unreachable, docs/api.md §6) or did not answer in time. It also
	// matches errUpstream.
	errUnavailable = errors.New("authorisation session API temporarily unavailable")
)

// apiClient speaks the authorisation session API (docs/api.md §3).
type apiClient struct {
	base  string // without trailing slash
	token string
	http  *http.Client
}

// start opens an authorisation session: POST {base} {query, sub_sid}.
func (c *apiClient) start(ctx context.Context, query, subSID string) (*message, error) {
	return c.do(ctx, http.MethodPost, c.base, startRequest{Query: query, SubSID: subSID})
}

// submit sends the subject authentication or the consent: PUT {base}/{sid}.
func (c *apiClient) submit(ctx context.Context, sid string, body any) (*message, error) {
	return c.do(ctx, http.MethodPut, c.sessionURL(sid), body)
}

// cancel denies the request: DELETE {base}/{sid} → response with
// access_denied (docs/api.md §5).
func (c *apiClient) cancel(ctx context.Context, sid string) (*message, error) {
	return c.do(ctx, http.MethodDelete, c.sessionURL(sid), nil)
}

func (c *apiClient) sessionURL(sid string) string {
	return c.base + "/" + url.PathEscape(sid)
}

func (c *apiClient) do(ctx context.Context, method, target string, body any) (*message, error) {
	var m message
	if err := c.call(ctx, method, target, body, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// call sends body as JSON and decodes a 200 answer into out.
func (c *apiClient) call(ctx context.Context, method, target string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s body: %w", method, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("%w: build request: %w", errUpstream, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w: %s: %w", errUnavailable, errUpstream, method, err)
		}
		return fmt.Errorf("%w: %s: %w", errUpstream, method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIResponse+1))
	if err != nil {
		return fmt.Errorf("%w: read %s response: %w", errUpstream, method, err)
	}
	if len(data) > maxAPIResponse {
		return fmt.Errorf("%w: %s response larger than %d bytes", errUpstream, method, maxAPIResponse)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w", method, errSessionGone)
	case resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusRequestEntityTooLarge:
		// 413: the browser's request made a body over the API's limit;
		// the user's input, not an upstream fault.
		return fmt.Errorf("%s: %w: %s", method, errRejected, snippet(data))
	case resp.StatusCode == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: %w: %s: %s", errUnavailable, errUpstream, method, snippet(data))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: %s: HTTP %d: %s", errUpstream, method, resp.StatusCode, snippet(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w: decode %s response: %w", errUpstream, method, err)
	}
	return nil
}

// snippet shortens an API error body for the log (never for the page).
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
