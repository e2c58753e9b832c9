package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// ErrUnavailable marks a failure to reach a backend (the database or
// Redis is down, restarting, overloaded or too slow), as opposed to a fault
// in the data or the code. Such a failure is the operator's to fix, not the
// client's, and goes away by itself: the HTTP layer answers it with 503
// temporarily_unavailable and Retry-After rather than 500 server_error
// (docs/api.md §6). Backends wrap it where they can tell; IsUnavailable
// also recognises the common driver errors.
var ErrUnavailable = errors.New("backend unavailable")

// sqlStater is implemented by driver errors that carry a SQLSTATE code
// (pgconn.PgError); the interface keeps this package free of drivers.
type sqlStater interface{ SQLState() string }

// IsUnavailable reports whether err means a backend could not be reached
// or did not answer in time: ErrUnavailable, a network error (refused,
// reset, timed out), a connection cut mid-answer (io.EOF,
// io.ErrUnexpectedEOF), a deadline that expired while waiting, or a
// SQLSTATE of class 08 (connection exception), 53300
// (too_many_connections) or 57P01–57P03 (the server is shutting down or
// starting up).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var st sqlStater
	if errors.As(err, &st) {
		code := st.SQLState()
		switch {
		case strings.HasPrefix(code, "08"), code == "53300", code == "57P01", code == "57P02", code == "57P03":
			return true
		}
		// Any other SQLSTATE is an answer from a live server.
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
