// Package testldap runs a real OpenLDAP slapd for tests: its own process on
// a free loopback port, with a throw-away slapd.conf and an mdb database
// seeded from testdata/seed.ldif, never the machine's system directory.
//
// When slapd is not installed the test is skipped, unless
// KEYWARD_TEST_REQUIRE_BACKENDS or CI is set, when it fails (as the
// PostgreSQL and Redis helpers do). .ci/run installs Debian's slapd.
//
// It is for tests only: import it from _test.go files.
package testldap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The seeded directory (testdata/seed.ldif).
const (
	BaseDN       = "dc=example,dc=org"
	PeopleDN     = "ou=people,dc=example,dc=org"
	BindDN       = "cn=keyward,dc=example,dc=org"
	BindPassword = "service-secret"
	// Users with passwords (not the demo users' ones, so a test can tell
	// which directory answered): alice and bob; carol has none.
	AlicePassword = "alice-ldap-secret"
	BobPassword   = "bob-ldap-secret"
)

//go:embed testdata/seed.ldif
var seedLDIF []byte

//go:embed testdata/keyward.schema
var schema []byte

// Binaries; Debian's slapd package puts slapd and slapadd in /usr/sbin.
var (
	slapdPath   = "/usr/sbin/slapd"
	slapaddPath = "/usr/sbin/slapadd"
	modulePath  = "/usr/lib/ldap"
	schemaDir   = "/etc/ldap/schema"
)

// Server is a running slapd.
type Server struct {
	// URL is the plain ldap:// URL (StartTLS is offered on it); LDAPSURL
	// the ldaps:// one.
	URL, LDAPSURL string
	// CAFile holds the PEM certificate the server's TLS certificate is
	// checked with (self-signed, for 127.0.0.1 and localhost).
	CAFile string
	// RootCAs is CAFile as a pool.
	RootCAs *x509.CertPool

	t      testing.TB
	dir    string
	conf   string
	listen string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

func required() bool {
	return os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != "" || os.Getenv("CI") != ""
}

// Available reports whether slapd is installed.
func Available() bool {
	_, err1 := os.Stat(slapdPath)
	_, err2 := os.Stat(slapaddPath)
	return err1 == nil && err2 == nil
}

// Start seeds a fresh directory and starts slapd on it; it is stopped when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if !Available() {
		if required() {
			t.Fatalf("slapd is not installed (%s); install Debian's slapd and ldap-utils, or unset KEYWARD_TEST_REQUIRE_BACKENDS", slapdPath)
		}
		t.Skipf("slapd is not installed (%s); set KEYWARD_TEST_REQUIRE_BACKENDS=1 to make this a failure", slapdPath)
	}
	dir := t.TempDir()
	s := &Server{t: t, dir: dir, conf: filepath.Join(dir, "slapd.conf")}
	certPEM, keyPEM := selfSigned(t)
	s.CAFile = filepath.Join(dir, "ca.pem")
	for name, data := range map[string][]byte{
		"ca.pem": certPEM, "key.pem": keyPEM, "keyward.schema": schema, "seed.ldif": seedLDIF,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s.RootCAs = x509.NewCertPool()
	s.RootCAs.AppendCertsFromPEM(certPEM)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include %[2]s/core.schema
include %[2]s/cosine.schema
include %[2]s/inetorgperson.schema
include %[1]s/keyward.schema
pidfile %[1]s/slapd.pid
modulepath %[3]s
moduleload back_mdb
TLSCertificateFile %[1]s/ca.pem
TLSCertificateKeyFile %[1]s/key.pem
database mdb
maxsize 10485760
suffix "%[4]s"
rootdn "cn=admin,%[4]s"
rootpw admin-secret
directory %[1]s/db
access to attrs=userPassword
	by anonymous auth
	by * none
access to *
	by dn.exact="%[5]s" read
	by * none
`, dir, schemaDir, modulePath, BaseDN, BindDN)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(slapaddPath, "-f", s.conf, "-l", filepath.Join(dir, "seed.ldif")).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	port, tlsPort := freePort(t), freePort(t)
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(tlsPort)
	s.listen = s.URL + "/ " + s.LDAPSURL + "/"
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// start runs slapd in the foreground (-d) and waits until it accepts
// connections.
func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command(slapdPath, "-f", s.conf, "-h", s.listen, "-d", "0")
	log, err := os.OpenFile(filepath.Join(s.dir, "slapd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		s.t.Fatalf("start slapd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()
	addr := strings.TrimPrefix(s.URL, "ldap://")
	for i := 0; ; i++ {
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "slapd.log"))
			s.t.Fatalf("slapd exited at start:\n%s", out)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if i == 200 {
			s.t.Fatalf("slapd did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends slapd (the directory's data stays for Restart).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited, paused := s.cmd, s.exited, s.paused
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts slapd again on the same ports and data after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// Pause stops the slapd process (SIGSTOP): connections are still accepted
// by the kernel but nothing answers, like a hung directory. It returns once
// every thread of slapd has stopped (the signal is delivered
// asynchronously, and a thread still running would answer a request).
func (s *Server) Pause() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.paused {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	s.paused = true
	for i := 0; !allStopped(s.cmd.Process.Pid); i++ {
		if i == 1000 {
			s.t.Fatal("slapd did not stop after SIGSTOP")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allStopped reports whether every thread of pid is in state T (stopped),
// from /proc/<pid>/task/<tid>/stat.
func allStopped(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			return false
		}
		// "tid (comm) S …": the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
			return false
		}
	}
	return true
}

// Resume continues a paused slapd (SIGCONT).
func (s *Server) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
}

// TLSConfig returns a client TLS configuration trusting the server.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.RootCAs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned makes a throw-away certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "testldap"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}
