package outage

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// required reports whether a missing tool must fail the test.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != ""
}

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format+" (backends are required)", args...)
	}
	t.Skipf(format, args...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPort waits until something accepts connections on port.
func waitPort(t *testing.T, port int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d after %v", port, within)
}

// redisServer is a private redis-server without persistence.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		skipOrFail(t, "redis-server not found")
	}
	r := &redisServer{t: t, bin: bin, port: freePort(t)}
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Signal(syscall.SIGCONT)
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

func (r *redisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	waitPort(r.t, r.port, 10*time.Second)
}

// kill9 kills the server as a crash would.
func (r *redisServer) kill9() {
	r.t.Helper()
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}

func (r *redisServer) signal(s syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(s); err != nil {
		r.t.Fatalf("signal redis-server: %v", err)
	}
}

// postgresServer is a private PostgreSQL cluster run as the postgres user.
type postgresServer struct {
	t       *testing.T
	bin     string // /usr/lib/postgresql/<v>/bin
	dir     string // owned by postgres
	port    int
	running bool
}

func startPostgres(t *testing.T) *postgresServer {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "starting PostgreSQL as the postgres user needs root")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		skipOrFail(t, "no /usr/lib/postgresql/<version>/bin/pg_ctl")
	}
	sort.Strings(bins)
	u, err := user.Lookup("postgres")
	if err != nil {
		skipOrFail(t, "no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "keyward-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	p := &postgresServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: dir, port: freePort(t)}
	p.asPostgres(filepath.Join(p.bin, "initdb"), "--no-sync", "-A", "trust", "-U", "postgres", "-D", p.data())
	p.start()
	t.Cleanup(func() {
		if p.running {
			p.asPostgres(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", "immediate", "-w", "stop")
		}
	})
	return p
}

func (p *postgresServer) data() string { return filepath.Join(p.dir, "data") }

func (p *postgresServer) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

func (p *postgresServer) asPostgres(args ...string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *postgresServer) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", p.port, p.dir)
	p.asPostgres(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", filepath.Join(p.dir, "log"),
		"-o", opts, "-w", "-t", "30", "start")
	p.running = true
}

// kill9 kills the postmaster and every process it started, as a crash of
// the machine's database would, and waits until they are gone so that it
// can start again.
func (p *postgresServer) kill9() {
	p.t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.data(), "postmaster.pid"))
	if err != nil {
		p.t.Fatalf("read postmaster.pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0]))
	if err != nil {
		p.t.Fatalf("postmaster.pid: %v", err)
	}
	pids := append([]int{pid}, children(pid)...)
	for _, id := range pids {
		syscall.Kill(id, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range pids {
		for alive(id) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The killed postmaster's PID may linger as a zombie when nothing
	// reaps it (a container's init), and PostgreSQL would take the lock
	// file for a live postmaster: remove it, as an operator would.
	os.Remove(filepath.Join(p.data(), "postmaster.pid"))
	p.running = false
}

// alive reports whether pid runs: it exists and is not a zombie.
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(raw), ") ")
	return ok && !strings.HasPrefix(rest, "Z")
}

// children lists the child processes of pid (Linux /proc).
func children(pid int) []int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		if id, err := strconv.Atoi(f); err == nil {
			out = append(out, id)
		}
	}
	return out
}
