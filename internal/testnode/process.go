package testnode

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testlog"
)

// Build compiles the keyward command into a new temporary directory and
// returns the binary's path; a TestMain calls it once, so that the build
// does not count against any test's time, and removes dir when the tests
// are done. The compiler's output goes to stderr.
func Build() (binary, dir string, err error) {
	dir, err = os.MkdirTemp("", "keyward-test-")
	if err != nil {
		return "", "", err
	}
	binary = filepath.Join(dir, "keyward")
	build := exec.Command("go", "build", "-o", binary, "github.com/keyward/keyward/cmd/keyward")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("build keyward: %w", err)
	}
	return binary, dir, nil
}

// Process is a node running as a child process.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	// Logs is what the node wrote to stderr: its structured log.
	Logs *testlog.Buffer
	// Done is closed when the process has exited.
	Done <-chan struct{}
}

// stopGrace is how long a node may take to shut down on SIGTERM before it
// is killed.
const stopGrace = 10 * time.Second

// StartProcess starts cmd, a prepared keyward command line. Its stdout,
// which carries the generated API token and demo secrets, is discarded;
// stderr is kept in Logs and shown if the test fails. When the test ends
// the process gets SIGTERM, and SIGKILL if it has not exited in time.
func StartProcess(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, Logs: &testlog.Buffer{}}
	cmd.Stdout, cmd.Stderr = io.Discard, p.Logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	p.Done = done
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopGrace):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.Logs.String())
		}
	})
	return p
}

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.Done:
		return true
	default:
		return false
	}
}

// Kill ends the process abruptly, as a crash would, and waits until it has
// exited.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.Done
}

// StartOnFreePort starts the node that newCmd builds for a loopback
// address, for nodes whose issuer must name their own port: the port is
// chosen before the node binds it, and when another test takes it
// meanwhile, StartOnFreePort tries another (five times). It returns the
// issuer once the node serves its discovery document; any other failure
// to start ends the test.
func StartOnFreePort(t testing.TB, name string, newCmd func(addr, issuer string) *exec.Cmd) (issuer string, p *Process) {
	t.Helper()
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		issuer = "http://" + addr
		p = StartProcess(t, name, newCmd(addr, issuer))
		if p.waitDiscovery(issuer) {
			return issuer, p
		}
		if !p.Exited() || !strings.Contains(p.Logs.String(), "address already in use") {
			t.Fatalf("%s did not start:\n%s", name, p.Logs.String())
		}
	}
	t.Fatalf("%s could not bind a free port in 5 tries", name)
	return "", nil
}

// readyTimeout bounds a node's start, migrations and key generation
// included, on a loaded machine.
const readyTimeout = 60 * time.Second

// waitDiscovery reports whether the discovery document answers 200 before
// the process exits or readyTimeout passes.
func (p *Process) waitDiscovery(issuer string) bool {
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return false
		}
		if resp, err := hc.Get(issuer + "/.well-known/openid-configuration"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}
