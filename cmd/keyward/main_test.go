package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/plugin/users"
)

// These tests run the real binary, built once by go build, as an operator
// does: signals, exit status and stderr are the process's own.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyward-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "keyward")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer collects a stream written by the process.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
	base   string // http://addr once listening
}

// start runs keyward with args and waits until it listens (or exits).
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary(t), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := p.logged("listening", "addr"); addr != "" {
			p.base = "http://" + addr
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			return p
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("keyward did not listen:\n%s", p.stderr.String())
	return nil
}

// logged returns the string attribute attr of the first JSON log line
// with message msg, or "".
func (p *proc) logged(msg, attr string) string {
	for _, line := range p.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			v, _ := m[attr].(string)
			return v
		}
	}
	return ""
}

func (p *proc) lines() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// waitLog waits until a log line contains s.
func (p *proc) waitLog(s string) {
	p.t.Helper()
	for range 200 {
		if strings.Contains(p.stderr.String(), s) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	p.t.Fatalf("no log line with %q:\n%s", s, p.stderr.String())
}

// stop sends sig and waits for the exit status.
func (p *proc) stop(sig syscall.Signal) error {
	p.t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("keyward did not stop on %v:\n%s", sig, p.stderr.String())
		return nil
	}
}

// allJSON fails the test for every stderr line that is not a JSON object.
func (p *proc) allJSON() {
	p.t.Helper()
	lines := p.lines()
	if len(lines) == 0 {
		p.t.Error("no log lines at all")
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			p.t.Errorf("stderr line is not JSON: %q", l)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	prefixes := []string{"keyward ", "module github.com/keyward/keyward ", "vcs.revision ", "vcs.time ", "vcs.modified ", "go go1."}
	if len(lines) != len(prefixes) {
		t.Fatalf("version printed %q", out)
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], p)
		}
	}
}

// --demo without --listen binds loopback only: the demo users and the
// demo client secret are public.
func TestDemoBindsLoopback(t *testing.T) {
	p := start(t, nil, "serve", "--demo", "--data-dir", t.TempDir())
	if p.base == "" {
		// Port 8080 taken on this machine: the refusal still names the
		// loopback address.
		<-p.done
		if !strings.Contains(p.stderr.String(), "listen 127.0.0.1:8080") {
			t.Fatalf("demo mode did not try 127.0.0.1:8080:\n%s", p.stderr.String())
		}
		return
	}
	if p.base != "http://127.0.0.1:8080" {
		t.Errorf("demo mode listens on %s, want 127.0.0.1:8080", p.base)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// SIGTERM while a request is in flight: the node stops accepting, the
// request completes with its answer, then the process exits 0 and says so.
func TestSIGTERMDrainsARequestInFlight(t *testing.T) {
	p := start(t, nil, "serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	if p.base == "" {
		t.Fatalf("serve exited:\n%s", p.stderr.String())
	}
	body := url.Values{"grant_type": {"authorization_code"}, "code": {"no-such-code"},
		"redirect_uri": {"http://127.0.0.1:9999/callback"}}.Encode()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, p.base+"/token", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("demo", "demo-secret-for-local-testing-only-0123456789")
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	half := len(body) / 2
	if _, err := pw.Write([]byte(body[:half])); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the handler is now reading the body
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog("draining requests in flight")
	// New connections are refused while the request is in flight.
	if resp, err := http.Get(p.base + "/jwks.json"); err == nil {
		resp.Body.Close()
		t.Error("a new connection was accepted during the drain")
	}
	select {
	case err := <-p.done:
		t.Fatalf("the process exited with a request in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	pw.Write([]byte(body[half:]))
	pw.Close()
	r := <-res
	if r.err != nil || r.status != http.StatusBadRequest || !strings.Contains(r.body, `"invalid_grant"`) {
		t.Errorf("request in flight: %d %q %v, want its 400 invalid_grant answer", r.status, r.body, r.err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after the drain")
	}
	for _, step := range []string{"requests in flight finished", "background jobs stopped", "plug-ins and stores closed"} {
		if !strings.Contains(p.stderr.String(), step) {
			t.Errorf("no log line %q", step)
		}
	}
	p.allJSON()
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// signIn starts an authorisation request of the demo client and submits
// the credentials; it returns the status of the submission (303: signed
// in).
func signIn(t *testing.T, base, issuer, username, password string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"demo"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s"},
		"redirect_uri": {"http://127.0.0.1:9999/callback"}, "code_challenge_method": {"S256"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}
	resp, err := c.Get(base + "/login?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {username}, "password": {password}}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("sid") == "" && len(form) <= 2 {
		t.Fatalf("no login form (status %d):\n%s", resp.StatusCode, page)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/login/authenticate", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func writeUsers(t *testing.T, path string, names ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("users:\n")
	for _, n := range names {
		h, err := users.HashPassword(n + "-password")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  - sub: %s\n    username: %s\n    password: %q\n", n, n, h)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// SIGHUP reloads the users file (a user added there can sign in at once)
// and log.level, logs what changed, and does not stop the process.
func TestSIGHUPReloadsUsersAndLogLevel(t *testing.T) {
	dir := t.TempDir()
	usersFile := filepath.Join(dir, "users.yaml")
	writeUsers(t, usersFile, "alice")
	cfgFile := filepath.Join(dir, "keyward.yaml")
	os.WriteFile(cfgFile, []byte("log:\n  level: info\n"), 0o600)
	issuer := "http://127.0.0.1:8080"
	p := start(t, []string{"KEYWARD_CONFIG=" + cfgFile}, "serve", "--demo", "--listen", "127.0.0.1:0",
		"--issuer", issuer, "--users", usersFile, "--data-dir", filepath.Join(dir, "data"))
	if p.base == "" {
		t.Fatalf("serve exited:\n%s", p.stderr.String())
	}
	if got := signIn(t, p.base, issuer, "carol", "carol-password"); got != http.StatusUnauthorized {
		t.Fatalf("carol before the reload: status %d, want 401", got)
	}
	// The failed sign-in names a hash of the username and the client. The
	// child's stderr reaches the buffer through a pipe: wait for the line.
	p.waitLog(`"event":"login_failed"`)
	var failed map[string]any
	for _, l := range p.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["event"] == "login_failed" {
			failed = m
		}
	}
	if failed["username_sha256"] != "4c26d9074c27d89ede59270c0ac14b71e071b15239519f75474b2f3ba63481f5" || failed["client_address"] != "127.0.0.1" {
		t.Errorf("login_failed line = %v, want username_sha256 of carol and client_address", failed)
	}
	if strings.Contains(p.stderr.String(), "carol-password") {
		t.Error("the password is in the log")
	}

	writeUsers(t, usersFile, "alice", "carol")
	os.WriteFile(cfgFile, []byte("log:\n  level: debug\n"), 0o600)
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLog("reload: users file loaded")
	line := p.logged("reload: users file loaded", "file")
	if line != usersFile {
		t.Errorf("reload line names %q", line)
	}
	if !strings.Contains(p.stderr.String(), `"added":1`) || p.logged("SIGHUP: log.level changed", "to") != "DEBUG" {
		t.Errorf("the reload did not log what changed:\n%s", p.stderr.String())
	}
	if strings.Contains(p.stderr.String(), "apply only after a restart") {
		t.Errorf("SIGHUP reported settings as changed that were not:\n%s", p.stderr.String())
	}
	if got := signIn(t, p.base, issuer, "carol", "carol-password"); got != http.StatusSeeOther {
		t.Fatalf("carol after the reload: status %d, want 303", got)
	}
	if err := p.stop(syscall.SIGINT); err != nil {
		t.Errorf("exit after SIGINT: %v", err)
	}
	p.allJSON()
}

// With Redis going away under a running node, and with Redis down at
// start, every line on stderr is a JSON object: the driver's own messages
// and the exit error included.
func TestStderrIsJSONWithRedisDown(t *testing.T) {
	mr := miniredis.RunT(t)
	redisURL := "redis://" + mr.Addr()
	p := start(t, nil, "serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--redis", redisURL)
	if p.base == "" {
		t.Fatalf("serve exited:\n%s", p.stderr.String())
	}
	logged := len(p.lines())
	mr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	redisTrouble := func() bool {
		return strings.Contains(strings.Join(p.lines()[logged:], "\n"), `"component":"go-redis"`)
	}
	for ctx.Err() == nil && !redisTrouble() {
		// An authorisation request of the demo client: its session goes
		// to Redis.
		q := url.Values{"client_id": {"demo"}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {"http://127.0.0.1:9999/callback"}, "code_challenge_method": {"S256"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/login?"+q.Encode(), nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.stop(syscall.SIGTERM)
	if !redisTrouble() {
		t.Errorf("go-redis logged nothing through slog with Redis down:\n%s", p.stderr.String())
	}
	p.allJSON()

	down := start(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--redis", redisURL+"?max_retries=-1&dial_timeout=1s")
	if down.base != "" {
		t.Fatal("serve started with Redis down")
	}
	if err := <-down.done; err == nil {
		t.Error("exit status 0 with Redis down")
	}
	down.done <- nil
	if down.logged("keyward serve stopped", "error") == "" {
		t.Errorf("the exit error is not a JSON line:\n%s", down.stderr.String())
	}
	down.allJSON()
}

// A bad configuration ends serve with exit 1 and one JSON line listing
// every problem; nothing is created.
func TestConfigProblemsAsJSON(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cmd := exec.Command(binary(t), "serve", "--issuer", "https://op.example/", "--data-dir", data)
	cmd.Env = []string{"KEYWARD_TOKENS_ACCESS_TOKEN_LIFETIME=soon", "KEYWARD_LOGOUT_REVOKE_TOKENS=sometimes"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("serve accepted the configuration")
	}
	var line struct {
		Msg      string   `json:"msg"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stderr.Bytes()), &line); err != nil {
		t.Fatalf("stderr is not one JSON line: %v\n%s", err, stderr.String())
	}
	if len(line.Problems) != 3 {
		t.Errorf("problems %q, want 3", line.Problems)
	}
	joined := strings.Join(line.Problems, "\n")
	for _, want := range []string{"KEYWARD_TOKENS_ACCESS_TOKEN_LIFETIME", `"soon"`, "KEYWARD_LOGOUT_REVOKE_TOKENS", `use "https://op.example"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("the data directory was created")
	}
}
