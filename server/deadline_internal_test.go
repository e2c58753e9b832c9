package server

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWithDeadline: the handler's context carries the request deadline,
// and a backend call that outlives it ends with context.DeadlineExceeded
// (which the HTTP layer answers as 503, store.IsUnavailable), not when the
// client gives up.
func TestWithDeadline(t *testing.T) {
	var left time.Duration
	var waitErr error
	h := withDeadline(50*time.Millisecond, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dl, ok := r.Context().Deadline()
		if !ok {
			t.Error("no deadline on the request context")
			return
		}
		left = time.Until(dl)
		<-r.Context().Done() // a hung backend call
		waitErr = r.Context().Err()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/token", nil))
	if left <= 0 || left > 50*time.Millisecond {
		t.Errorf("deadline %v ahead, want within 50ms", left)
	}
	if !errors.Is(waitErr, context.DeadlineExceeded) {
		t.Errorf("context ended with %v, want DeadlineExceeded", waitErr)
	}
	for _, c := range []struct{ write, want time.Duration }{
		{30 * time.Second, requestDeadline},
		{0, requestDeadline},
		{10 * time.Second, 8 * time.Second},
		{5 * time.Second, 4 * time.Second},
	} {
		if got := deadlineFor(c.write); got != c.want {
			t.Errorf("deadlineFor(%v) = %v, want %v", c.write, got, c.want)
		}
	}
}
