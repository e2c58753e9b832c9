// Package deploy holds the deployment files (the systemd unit; the
// Dockerfile is at the repository root) and tests them where docker and
// systemd cannot run: the Dockerfile's build command is run as written and
// its result checked, and the unit's hardening options are checked.
package deploy

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repoRoot = ".."

// dockerfile returns the instructions of the Dockerfile, continuation
// lines joined, comments dropped.
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		cur += line
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// The image's final stage is distroless/static (or scratch) and runs as a
// non-root user; its build command, run here as written, makes a static
// binary that works.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms []string
	var user, build string
	for _, in := range ins {
		switch in[0] {
		case "FROM":
			froms = append(froms, in[1])
			user = "" // USER applies to its stage
		case "USER":
			user = in[1]
		case "RUN":
			if strings.Contains(in[1], "go build") {
				build = in[1]
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM %v", froms)
	}
	final := froms[len(froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage FROM %s, want distroless/static or scratch", final)
	}
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if goVersion(t) != "" && !strings.Contains(froms[0], "golang:"+goVersion(t)) {
		t.Errorf("build stage %s does not use the go.mod toolchain %s", froms[0], goVersion(t))
	}
	if build == "" {
		t.Fatal("no RUN go build in the Dockerfile")
	}
	if testing.Short() {
		t.Skip("-short: not running the build")
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(build, "/out/", out+"/"))
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	bin := filepath.Join(out, "keyward")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked and would not run on distroless/static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if b, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(b), "keyward ") {
		t.Errorf("keyward version: %q %v", b, err)
	}
}

func goVersion(t *testing.T) string {
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// The systemd unit runs serve under a dynamic user with the hardening
// options, its data in the state directory, and reloads with SIGHUP.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join("systemd", "keyward.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("not key=value: %q", line)
			continue
		}
		opts[k] = append(opts[k], v)
	}
	for k, want := range map[string]string{
		"DynamicUser":     "yes",
		"ProtectSystem":   "strict",
		"StateDirectory":  "keyward",
		"NoNewPrivileges": "yes",
		"ProtectHome":     "yes",
		"PrivateTmp":      "yes",
		"UMask":           "0077",
		"KillSignal":      "SIGTERM",
		"ExecReload":      "/bin/kill -HUP $MAINPID",
		"Environment":     "KEYWARD_DATA_DIR=/var/lib/keyward",
	} {
		if got := opts[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %v, want %q", k, got, want)
		}
	}
	if got := opts["ExecStart"]; len(got) != 1 || !strings.Contains(got[0], "/keyward serve") {
		t.Errorf("ExecStart = %v, want keyward serve", got)
	}
	if got := opts["CapabilityBoundingSet"]; len(got) != 1 || got[0] != "" {
		t.Errorf("CapabilityBoundingSet = %v, want empty (no capabilities)", got)
	}
	if path, err := exec.LookPath("systemd-analyze"); err == nil {
		if b, err := exec.Command(path, "verify", filepath.Join("systemd", "keyward.service")).CombinedOutput(); err != nil {
			t.Logf("systemd-analyze verify (informational; it needs the binary installed): %v\n%s", err, b)
		}
	}
}
