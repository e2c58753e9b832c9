package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/keyward/keyward/store"
)

type sqlStateErr string

func (e sqlStateErr) Error() string    { return "sqlstate " + string(e) }
func (e sqlStateErr) SQLState() string { return string(e) }

func TestIsUnavailable(t *testing.T) {
	// A real refused connection: nothing listens on the port of a closed listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := net.Dial("tcp", addr)
	if refused == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()

	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"sentinel", fmt.Errorf("redis: get: %w", store.ErrUnavailable), true},
		{"refused dial", fmt.Errorf("connect: %w", refused), true},
		{"ECONNRESET", &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}, true},
		{"ECONNREFUSED", syscall.ECONNREFUSED, true},
		{"EOF", fmt.Errorf("read: %w", io.EOF), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"deadline", fmt.Errorf("query: %w", ctx.Err()), true},
		{"timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"connection exception 08006", sqlStateErr("08006"), true},
		{"too many connections", sqlStateErr("53300"), true},
		{"admin shutdown", fmt.Errorf("wrapped: %w", sqlStateErr("57P01")), true},
		{"crash shutdown", sqlStateErr("57P02"), true},
		{"cannot connect now", sqlStateErr("57P03"), true},
		{"unique violation", sqlStateErr("23505"), false},
		{"query canceled", sqlStateErr("57014"), false},
		{"not found", store.ErrNotFound, false},
		{"conflict", fmt.Errorf("x: %w", store.ErrConflict), false},
		{"canceled by the client", context.Canceled, false},
		{"plain", errors.New("decode: bad json"), false},
	}
	for _, c := range cases {
		if got := store.IsUnavailable(c.err); got != c.want {
			t.Errorf("%s: IsUnavailable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
