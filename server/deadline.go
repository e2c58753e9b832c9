package server

import (
	"context"
	"net/http"
	"time"
)

// withDeadline gives every request's context a deadline of d, which the
// store and Redis clients honour on each call.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
