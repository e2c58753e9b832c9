package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// caller holds what every hook call needs besides its payload: where to
// send it, how long to wait and how to authenticate.
type caller struct {
	client      *http.Client
	url         string
	timeout     time.Duration
	bearerToken string
	hmacSecret  []byte
	now         func() time.Time
	requestID   func(context.Context) string
}

// post sends payload as one JSON POST, with the bearer token, the
// timestamped HMAC signature (Sign) and the request ID when configured,
// and returns the status and at most MaxResponseBytes+1 bytes of the
// answer, so that callers can tell an oversized one. An error is a
// transport failure (connection, timeout, reading the answer): the
// callers answer temporarily_unavailable for it; failures to build the
// request are wrapped in errBuild.
func (c *caller) post(ctx context.Context, payload []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, &buildError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.bearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearerToken)
	}
	if len(c.hmacSecret) > 0 {
		ts := strconv.FormatInt(c.now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(c.hmacSecret, ts, payload))
	}
	if c.requestID != nil {
		if id := c.requestID(ctx); id != "" {
			req.Header.Set(HeaderRequestID, id)
		}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, data, nil
}

// buildError is a request that could not be built: a fault of ours, not
// the hook's unavailability.
type buildError struct{ err error }

func (e *buildError) Error() string { return "build request: " + e.err.Error() }
func (e *buildError) Unwrap() error { return e.err }
