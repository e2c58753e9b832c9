package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/server"
)

// runNode serves a node with Run on a free loopback port, so that the
// http.* settings apply as in production, and returns its address.
func runNode(t *testing.T, configure func(*config.Config)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := config.Default()
	cfg.DataDir, cfg.Listen, cfg.Issuer = t.TempDir(), addr, "http://"+addr
	configure(&cfg)
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	srv, err := server.New(t.Context(), cfg, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if i == 500 {
			t.Fatalf("node did not start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A connection that dribbles its headers (slowloris) is cut once
// http.read_header_timeout has passed; it cannot hold the node forever.
// The test asserts the cut, not its timing: it dribbles for far longer
// than the timeout and expects the node to have closed the connection.
func TestSlowlorisConnectionIsCut(t *testing.T) {
	addr := runNode(t, func(c *config.Config) { c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
	cut := false
	for range 200 { // up to 20 s of dribbling
		time.Sleep(100 * time.Millisecond)
		if _, err := io.WriteString(conn, "X-Dribble: a\r\n"); err != nil {
			cut = true
			break
		}
		conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := conn.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			cut = true // EOF or reset: the node closed it
			break
		}
	}
	if !cut {
		t.Fatal("a connection dribbling headers for 20 s was not cut")
	}
	// The node still serves others.
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after the slowloris: %v %v", resp, err)
	}
	resp.Body.Close()
}

// Headers past http.max_header_bytes are refused with 431 before any
// handler runs.
func TestOversizedHeadersRefused(t *testing.T) {
	addr := runNode(t, func(c *config.Config) { c.HTTP.MaxHeaderBytes = 8192 })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 100_000)+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KB header: %d, want 431", resp.StatusCode)
	}
}
