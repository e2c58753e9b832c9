package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/internal/testlog"
	"github.com/keyward/keyward/internal/testnode"
)

// binary is the keyward binary TestMain built, or "" when there is no
// browser to drive and none is required (the build would be wasted).
var binary string

func chromiumPath() string {
	if p := os.Getenv("KEYWARD_TEST_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// browserRequired reports whether a missing browser must fail the run
// rather than skip it; CI sets one of these variables.
func browserRequired() bool {
	return os.Getenv("CI") != "" || os.Getenv("KEYWARD_TEST_REQUIRE_BACKENDS") != ""
}

func haveChromium() bool {
	fi, err := os.Stat(chromiumPath())
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// TestMain builds the real binary once, so that the browser test exercises
// exactly what `keyward serve --demo` runs and the build time does not
// count against the test's own time bound.
func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if haveChromium() || browserRequired() {
		var dir string
		var err error
		if binary, dir, err = testnode.Build(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	return m.Run()
}

// needChromium skips the test without a browser, or fails it when CI
// requires one.
func needChromium(t *testing.T) {
	t.Helper()
	if haveChromium() {
		return
	}
	msg := fmt.Sprintf("no Chromium at %s (apt-get install chromium, or set KEYWARD_TEST_CHROMIUM)", chromiumPath())
	if browserRequired() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// serverEnv is the process environment without any KEYWARD_ variable, so
// that the node runs with the README's defaults whatever the CI job exports.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYWARD_") {
			env = append(env, kv)
		}
	}
	return env
}

// startDemo runs `keyward serve --demo` on a free loopback port with a fresh
// data directory and returns its issuer URL once discovery answers.
func startDemo(t *testing.T) string {
	t.Helper()
	issuer, _ := testnode.StartOnFreePort(t, "keyward", func(addr, issuer string) *exec.Cmd {
		cmd := exec.Command(binary, "serve", "--demo",
			"--listen", addr, "--issuer", issuer, "--data-dir", t.TempDir())
		cmd.Env = serverEnv()
		return cmd
	})
	return issuer
}

// hop is one document request the browser made, redirects included.
type hop struct {
	Method, Path string
}

// browser is one headless Chromium with one tab, plus what it reported.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab; derive per-step timeouts from it

	mu       sync.Mutex
	hops     []hop
	problems []string // console errors, uncaught exceptions, CSP and load failures
}

// newBrowser starts Chromium with a fresh profile. Everything it does is
// bounded by parent: when parent ends, the browser is killed.
func newBrowser(t *testing.T, parent context.Context) *browser {
	t.Helper()
	out := &testlog.Buffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath()),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 900),
		chromedp.CombinedOutput(out),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	tctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	b := &browser{t: t, ctx: tctx}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output (without D-Bus noise):\n%s", withoutDBus(out.String()))
		}
	})
	// Listen starts the browser under tctx itself: the browser lives as long
	// as the context of its first use, so that must not be a step's timeout.
	if err := chromedp.Listen(tctx, b.observe); err != nil {
		t.Fatalf("start chromium %s: %v\n%s", chromiumPath(), err, out.String())
	}
	return b
}

// observe runs on chromedp's event goroutine.
func (b *browser) observe(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeDocument && ev.Request != nil {
			path := ev.Request.URL
			if i := strings.Index(path, "://"); i >= 0 {
				path = path[i+3:]
				if j := strings.IndexByte(path, '/'); j >= 0 {
					path = path[j:]
				} else {
					path = "/"
				}
			}
			path, _, _ = strings.Cut(path, "?")
			b.hops = append(b.hops, hop{Method: ev.Request.Method, Path: path})
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		// Chromium asks every origin for a favicon; the provider has none.
		if e.Level == log.EntryLevelError && !strings.HasSuffix(e.URL, "/favicon.ico") {
			b.problems = append(b.problems, fmt.Sprintf("log %s: %s %s", e.Source, e.Text, e.URL))
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			b.problems = append(b.problems, "console.error: "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, "uncaught exception: "+msg)
	}
}

// hopsSince returns the document requests made after the first n.
func (b *browser) hopsSince(n int) []hop {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hop(nil), b.hops[n:]...)
}

func (b *browser) hopCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.hops)
}

func (b *browser) reportedProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// do runs actions in order with a deadline, failing the test with what as
// context.
func (b *browser) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	get(b, what, timeout, chromedp.Steps(actions...))
}

// get runs one action with a deadline and returns its value.
func get[T any](b *browser, what string, timeout time.Duration, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.describe())
	}
	return v
}

// pageKind names the page on screen. A page already acted on is marked
// (data-kw-seen) so that a wait after a click cannot match the page the
// click left.
const pageKind = `(() => {
  if (document.readyState !== "complete" || !document.body || document.body.dataset.kwSeen) return "";
  if (document.querySelector("#username")) return "login";
  if (document.querySelector("button[name=action][value=allow]")) return "consent";
  if (document.querySelector("button[name=action][value=logout]")) return "logout-confirm";
  const h = document.querySelector("h1");
  const t = h ? h.textContent.trim() : "";
  if (t.startsWith("Signed in as")) return "result";
  if (t === "Keyward demo client") return "demo";
  if (t === "The provider answered with an error") return "demo-error";
  return "other: " + t;
})()`

// waitFor polls until the page on screen is of kind want. Evaluation fails
// while a navigation swaps documents; those errors are retried.
func (b *browser) waitFor(want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		kind, err := chromedp.Run(ctx, chromedp.Evaluate[string](pageKind))
		cancel()
		if b.ctx.Err() != nil {
			b.t.Fatalf("waiting for the %s page: browser gone: %v", want, b.ctx.Err())
		}
		if err == nil && kind != "" {
			last = kind
			if kind == want {
				return
			}
			if !strings.HasPrefix(kind, "other") {
				// A known page other than the one wanted is where the flow
				// went; waiting longer cannot change that.
				b.t.Fatalf("got the %s page, want the %s page; now: %s", kind, want, b.describe())
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("no %s page within %v; last page seen: %q; now: %s", want, timeout, last, b.describe())
}

// leave marks the current page as handled before an action navigates away.
func (b *browser) leave() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[string](`document.body.dataset.kwSeen = "1"`)(ctx, t)
		return err
	})
}

// describe summarises the current page for a failure message.
func (b *browser) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 600) : ""`))
	if err != nil {
		return loc + " (text unavailable: " + err.Error() + ")"
	}
	return fmt.Sprintf("%s %q", loc, text)
}

// withoutDBus drops Chromium's complaints about the missing D-Bus, which a
// container never has and which bury the lines that matter.
func withoutDBus(out string) string {
	var keep []string
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "")
}
