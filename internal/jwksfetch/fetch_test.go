package jwksfetch

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const jwks = `{"keys":[]}`

// TestRedirectRefused: a jwks_uri that answers with a redirect is refused
// with a clear error, the redirect target receives no request whatever the
// redirect status, and the caller's HTTP client is left as it was.
func TestRedirectRefused(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		targetHits.Add(1)
		w.Write([]byte(jwks))
	}))
	defer target.Close()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var hits atomic.Int32
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				http.Redirect(w, r, target.URL+"/jwks", status)
			}))
			defer redirector.Close()
			// The caller's client would follow redirects; the fetch must not.
			hc := &http.Client{Timeout: 10 * time.Second}
			_, err := New(hc).Fetch(t.Context(), redirector.URL+"/jwks", 1<<20)
			if err == nil || !strings.Contains(err.Error(), "redirect") {
				t.Errorf("Fetch = %v, want a refused redirect", err)
			}
			if hits.Load() != 1 {
				t.Errorf("jwks_uri requested %d times, want 1", hits.Load())
			}
			if n := targetHits.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests, want none", n)
			}
			if hc.CheckRedirect != nil {
				t.Error("the caller's HTTP client was changed")
			}
		})
	}
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if !strings.Contains(r.Header.Get("Accept"), "application/jwk-set+json") {
				t.Errorf("Accept = %q", r.Header.Get("Accept"))
			}
			w.Write([]byte(jwks))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 101)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := New(srv.Client())
	if body, err := f.Fetch(t.Context(), srv.URL+"/ok", 100); err != nil || string(body) != jwks {
		t.Errorf("Fetch /ok = %q, %v", body, err)
	}
	for _, tt := range []struct{ uri, want string }{
		{srv.URL + "/big", "larger than 100 bytes"},
		{srv.URL + "/missing", "status 404"},
		{"file:///etc/passwd", "unsupported URL scheme"},
		{"ftp://example.com/jwks", "unsupported URL scheme"},
	} {
		if _, err := f.Fetch(t.Context(), tt.uri, 100); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Fetch %s = %v, want an error with %q", tt.uri, err, tt.want)
		}
	}
	if _, err := (&Fetcher{}).Fetch(t.Context(), srv.URL+"/ok", 100); err == nil {
		t.Error("a Fetcher without a client fetched")
	}
}
