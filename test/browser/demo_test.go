package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

const stepTimeout = 10 * time.Second

// TestDemoSignIn follows the README's quick start as a newcomer does: open
// /demo, sign in as alice through the reference login and consent pages,
// see the verified ID token and UserInfo, then sign in again and get
// through on the SSO session and the remembered consent without any form.
func TestDemoSignIn(t *testing.T) {
	needChromium(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 55*time.Second)
	defer cancel()

	issuer := startDemo(t)
	b := newBrowser(t, ctx)
	shots := screenshotDir(t)

	// The demo client's page.
	b.do("open /demo", stepTimeout, chromedp.Navigate(issuer+"/demo"))
	b.waitFor("demo", stepTimeout)
	b.do("click Sign in with Keyward", stepTimeout,
		b.leave(), chromedp.Click(`//a[normalize-space()="Sign in with Keyward"]`))

	// The reference login page at /login, reached with the client's
	// authorisation request (RFC 6749 §4.1.1, PKCE per RFC 7636 §4.3).
	b.waitFor("login", stepTimeout)
	loc := b.location()
	if loc.Path != "/login" {
		t.Errorf("login page path = %q, want /login", loc.Path)
	}
	q := loc.Query()
	for k, want := range map[string]string{"client_id": "demo", "response_type": "code", "code_challenge_method": "S256"} {
		if got := q.Get(k); got != want {
			t.Errorf("authorisation request %s = %q, want %q", k, got, want)
		}
	}
	b.checkStyled("login page")
	b.screenshot(shots, "1-login.png")
	b.do("sign in as alice", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-password"),
		b.leave(),
		chromedp.Click(chromedp.CSS(`form[action$="/authenticate"] button[type=submit]`)))

	// The consent page names the user and what the client asks for.
	b.waitFor("consent", stepTimeout)
	consentText := get(b, "read the consent page", stepTimeout, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"alice", "email"} {
		if !strings.Contains(consentText, want) {
			t.Errorf("consent page does not mention %q:\n%s", want, consentText)
		}
	}
	b.checkStyled("consent page")
	b.screenshot(shots, "2-consent.png")
	b.do("allow", stepTimeout, b.leave(),
		chromedp.Click(chromedp.CSS(`button[name=action][value=allow]`)))

	// Back at the demo client with a verified ID token and UserInfo.
	b.waitFor("result", stepTimeout)
	first := b.result(issuer)
	b.screenshot(shots, "3-result.png")

	// Signing in again rides the SSO session and the remembered consent:
	// the browser goes /demo/start → /login → /demo/callback by redirects
	// alone, with no form shown or posted.
	mark := b.hopCount()
	b.do("click Sign in again", stepTimeout, b.leave(),
		chromedp.Click(`//a[normalize-space()="Sign in again"]`))
	b.waitFor("result", stepTimeout)
	second := b.result(issuer)
	wantHops := []hop{{"GET", "/demo/start"}, {"GET", "/login"}, {"GET", "/demo/callback"}}
	if diff := cmp.Diff(wantHops, b.hopsSince(mark)); diff != "" {
		t.Errorf("second sign-in was not silent SSO; document requests (-want +got):\n%s", diff)
	}
	// The same authentication event and session (OIDC Core §2; sid per
	// Front-Channel Logout §3) in both ID tokens.
	for _, c := range []string{"auth_time", "sid"} {
		if first[c] == nil || first[c] != second[c] {
			t.Errorf("%s %v then %v: the second sign-in should reuse the first session", c, first[c], second[c])
		}
	}
	if first["nonce"] == second["nonce"] {
		t.Errorf("both ID tokens carry nonce %v; each sign-in must use a fresh one", first["nonce"])
	}

	if p := b.reportedProblems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("test took %v, budget is 60s", d)
	}
}

// TestDemoDeny refuses consent after reloading the consent page: the
// reload must show the same prompt again (the login UI's POST-redirect-GET),
// and Deny must bring the browser back to the demo client with
// access_denied (RFC 6749 §4.1.2.1).
func TestDemoDeny(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 55*time.Second)
	defer cancel()

	issuer := startDemo(t)
	b := newBrowser(t, ctx)

	b.do("open /demo", stepTimeout, chromedp.Navigate(issuer+"/demo"))
	b.waitFor("demo", stepTimeout)
	b.do("click Sign in with Keyward", stepTimeout,
		b.leave(), chromedp.Click(`//a[normalize-space()="Sign in with Keyward"]`))
	b.waitFor("login", stepTimeout)
	b.do("sign in as bob", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#username"), "bob"),
		chromedp.SendKeys(chromedp.CSS("#password"), "bob-password"),
		b.leave(),
		chromedp.Click(chromedp.CSS(`form[action$="/authenticate"] button[type=submit]`)))
	b.waitFor("consent", stepTimeout)

	mark := b.hopCount()
	b.do("reload the consent page", stepTimeout, b.leave(), chromedp.Reload())
	b.waitFor("consent", stepTimeout)
	if diff := cmp.Diff([]hop{{"GET", "/login/prompt"}}, b.hopsSince(mark)); diff != "" {
		t.Errorf("reloading the consent page (-want +got):\n%s", diff)
	}
	if text := get(b, "read the consent page", stepTimeout, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "bob") {
		t.Errorf("reloaded consent page does not name bob:\n%s", text)
	}

	b.do("deny", stepTimeout, b.leave(),
		chromedp.Click(chromedp.CSS(`button[name=action][value=deny]`)))
	b.waitFor("demo-error", stepTimeout)
	if loc := b.location(); loc.Path != "/demo/callback" || loc.Query().Get("error") != "access_denied" {
		t.Errorf("after Deny the browser is at %s, want /demo/callback?error=access_denied", loc)
	}
	if text := get(b, "read the error page", stepTimeout, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "access_denied") {
		t.Errorf("error page does not show access_denied:\n%s", text)
	}
	if p := b.reportedProblems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// screenshotDir is where screenshots go: a temporary directory, or
// KEYWARD_TEST_SCREENSHOTS when a person wants to look at them.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("KEYWARD_TEST_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func (b *browser) location() *url.URL {
	b.t.Helper()
	loc := get(b, "read location", stepTimeout, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("location %q: %v", loc, err)
	}
	return u
}

// screenshot saves a full-page PNG and checks that it is a real image.
func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	buf := get(b, "screenshot "+name, stepTimeout, chromedp.FullScreenshot(100))
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil || cfg.Width < 300 || cfg.Height < 200 {
		b.t.Errorf("screenshot %s: %dx%d, %v", name, cfg.Width, cfg.Height, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// checkStyled fails when the login UI's stylesheet did not apply (a CSP or
// path mistake leaves the page unstyled, which only a browser shows).
func (b *browser) checkStyled(what string) {
	b.t.Helper()
	radius := get(b, "read styles of "+what, stepTimeout,
		chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main")).borderTopLeftRadius`))
	if radius == "" || radius == "0px" {
		b.t.Errorf("%s: main has no border radius (%q); is style.css applied?", what, radius)
	}
}

// result reads the demo callback page, checks it and returns the ID token
// claims.
func (b *browser) result(issuer string) map[string]any {
	b.t.Helper()
	if loc := b.location(); loc.Path != "/demo/callback" || loc.Query().Get("error") != "" {
		b.t.Errorf("result page at %s, want /demo/callback without error", loc)
	}
	heading := get(b, "read the heading", stepTimeout, chromedp.Text(chromedp.CSS("h1")))
	pres := get(b, "read the claims", stepTimeout,
		chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("pre"), p => p.textContent)`))
	if heading != "Signed in as alice" {
		b.t.Errorf("heading = %q, want %q", heading, "Signed in as alice")
	}
	if len(pres) != 2 {
		b.t.Fatalf("result page has %d <pre> blocks, want 2 (ID token claims, UserInfo): %s", len(pres), b.describe())
	}
	var idClaims, userInfo map[string]any
	if err := json.Unmarshal([]byte(pres[0]), &idClaims); err != nil {
		b.t.Fatalf("ID token claims are not JSON: %v\n%s", err, pres[0])
	}
	if err := json.Unmarshal([]byte(pres[1]), &userInfo); err != nil {
		b.t.Fatalf("UserInfo is not JSON: %v\n%s", err, pres[1])
	}
	// OIDC Core §2 and §5.3.2.
	if idClaims["iss"] != issuer || idClaims["sub"] != "alice" || !audienceHas(idClaims["aud"], "demo") || idClaims["nonce"] == nil {
		b.t.Errorf("ID token claims: iss=%v sub=%v aud=%v nonce=%v; want iss=%s sub=alice aud∋demo and a nonce",
			idClaims["iss"], idClaims["sub"], idClaims["aud"], idClaims["nonce"], issuer)
	}
	if userInfo["sub"] != "alice" || userInfo["email"] == nil {
		b.t.Errorf("UserInfo = %v, want sub alice with an email (scope email)", userInfo)
	}
	return idClaims
}

func audienceHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, v := range a {
			if v == id {
				return true
			}
		}
	}
	return false
}

// TestLogoutPage signs in through the demo, then follows an RP-initiated
// logout (OpenID Connect RP-Initiated Logout 1.0) on the reference logout
// page: the confirmation page, Sign out, and the redirect back to the
// client's registered post-logout URI with its state. The next sign-in
// asks for the password again: the session is gone.
func TestLogoutPage(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 55*time.Second)
	defer cancel()

	issuer := startDemo(t)
	b := newBrowser(t, ctx)
	shots := screenshotDir(t)

	b.do("open /demo", stepTimeout, chromedp.Navigate(issuer+"/demo"))
	b.waitFor("demo", stepTimeout)
	b.do("click Sign in with Keyward", stepTimeout,
		b.leave(), chromedp.Click(`//a[normalize-space()="Sign in with Keyward"]`))
	b.waitFor("login", stepTimeout)
	b.do("sign in as alice", stepTimeout,
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "alice-password"),
		b.leave(),
		chromedp.Click(chromedp.CSS(`form[action$="/authenticate"] button[type=submit]`)))
	b.waitFor("consent", stepTimeout)
	b.do("allow", stepTimeout, b.leave(), chromedp.Click(chromedp.CSS(`button[name=action][value=allow]`)))
	b.waitFor("result", stepTimeout)

	// The discovery document names the logout page.
	var doc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	b.do("open discovery", stepTimeout, b.leave(), chromedp.Navigate(issuer+"/.well-known/openid-configuration"))
	// Chromium's JSON viewer re-renders the page after load, so a node
	// looked up by ID may be gone when it is read: read the raw text (the
	// viewer's first <pre>) by script, until the document is complete.
	var raw string
	var err error
	for deadline := time.Now().Add(stepTimeout); ; time.Sleep(50 * time.Millisecond) {
		raw = get(b, "read discovery", stepTimeout, chromedp.Evaluate[string](
			`document.readyState !== "complete" || !document.body ? "" : (document.querySelector("pre") || document.body).textContent`))
		if err = json.Unmarshal([]byte(raw), &doc); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || doc.EndSession != issuer+"/logout" {
		t.Fatalf("end_session_endpoint = %q (%v)", doc.EndSession, err)
	}

	q := url.Values{"client_id": {"demo"}, "post_logout_redirect_uri": {issuer + "/demo"}, "state": {"bye-123"}}
	b.do("open the logout page", stepTimeout, chromedp.Navigate(doc.EndSession+"?"+q.Encode()))
	b.waitFor("logout-confirm", stepTimeout)
	text := get(b, "read the confirmation page", stepTimeout, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"Keyward demo client", "alice"} {
		if !strings.Contains(text, want) {
			t.Errorf("confirmation page does not mention %q:\n%s", want, text)
		}
	}
	b.checkStyled("logout page")
	b.screenshot(shots, "4-logout-confirm.png")
	b.do("sign out", stepTimeout, b.leave(), chromedp.Click(chromedp.CSS(`button[name=action][value=logout]`)))

	// The end page sends the browser on to the registered URI with state.
	b.waitFor("demo", stepTimeout)
	if loc := b.location(); loc.Path != "/demo" || loc.Query().Get("state") != "bye-123" {
		t.Errorf("after sign-out the browser is at %s, want /demo?state=bye-123", loc)
	}

	// No SSO any more: the login form is shown again.
	b.do("click Sign in with Keyward", stepTimeout,
		b.leave(), chromedp.Click(`//a[normalize-space()="Sign in with Keyward"]`))
	b.waitFor("login", stepTimeout)

	if p := b.reportedProblems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
