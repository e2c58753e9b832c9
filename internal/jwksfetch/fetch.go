// Package jwksfetch fetches the JWK set documents of clients that register
// a jwks_uri (RFC 7591 §2), for jose.ClientKeys. It is the one piece of
// client-key handling that does network I/O, kept out of internal/jose so
// that the protocol core, which verifies client assertions through jose,
// never reaches net/http.
//
// The fetch is made before any signature is checked, on behalf of anyone
// who knows a client_id, so it is deliberately narrow: http(s) only, no
// redirects, one size-limited 200 answer.
package jwksfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Fetcher gets jwks_uri documents with an HTTP client.
type Fetcher struct {
	// Client sends the requests; its Timeout and the context bound each
	// fetch. Its CheckRedirect is not used: redirects are always refused.
	Client *http.Client
}

// New returns a Fetcher using hc, which must not be nil: the server never
// uses http.DefaultClient, which has no timeout.
func New(hc *http.Client) *Fetcher { return &Fetcher{Client: hc} }

// Fetch returns the body of a 200 answer to GET uri, at most maxBytes long.
// A redirect, any other status, a body over the limit or a scheme other
// than http(s) is an error.
func (f *Fetcher) Fetch(ctx context.Context, uri string, maxBytes int64) ([]byte, error) {
	if f == nil || f.Client == nil {
		return nil, errors.New("no HTTP client configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
		return nil, fmt.Errorf("unsupported jwks_uri scheme %q", req.URL.Scheme)
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	// Following a redirect would let the jwks_uri send the fetch to an
	// internal address. The redirect is refused, on a copy so that the
	// caller's client is left as configured.
	hc := *f.Client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return nil, fmt.Errorf("get: status %d redirect to %q refused: a jwks_uri must serve the JWK set itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("response larger than %d bytes", maxBytes)
	}
	return body, nil
}
