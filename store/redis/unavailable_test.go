package redis_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/keyward/keyward/store"
	kwredis "github.com/keyward/keyward/store/redis"
)

// TestUnavailableWhenDown: once the server is gone, store calls fail with
// an error store.IsUnavailable recognises, while a missing key on a live
// server stays ErrNotFound.
func TestUnavailableWhenDown(t *testing.T) {
	mr := miniredis.RunT(t)
	s := openStore(t, "redis://"+mr.Addr()+"/0")
	eph := s.Ephemeral()
	_, err := eph.AuthzSessions.Get(t.Context(), "missing", time.Now())
	if !errors.Is(err, store.ErrNotFound) || store.IsUnavailable(err) {
		t.Fatalf("Get(missing) on a live server = %v, want ErrNotFound only", err)
	}
	mr.Close()
	_, err = eph.AuthzSessions.Get(t.Context(), "missing", time.Now())
	if !store.IsUnavailable(err) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Get with the server down = %v, want store.ErrUnavailable", err)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get with the server down = %v, must not look like a missing key", err)
	}
}

// TestUnavailableWhenHung: a server that accepts connections and never
// answers (a stopped process) fails the call within the socket timeouts,
// not when the caller gives up.
func TestUnavailableWhenHung(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Connections are accepted and held open, never answered; the
	// goroutine closes them when the listener closes.
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	defer func() { ln.Close(); <-done }()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err = kwredis.Open(ctx, "redis://"+ln.Addr().String()+"/0")
	took := time.Since(start)
	if err == nil {
		t.Fatal("Open on a hung server succeeded")
	}
	if !store.IsUnavailable(err) {
		t.Fatalf("Open on a hung server = %v, want an unavailable error", err)
	}
	if took > 15*time.Second {
		t.Fatalf("Open on a hung server took %v; the socket timeouts do not apply", took)
	}
}
