package e2e

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// browser is a cookie-keeping HTTP client that, like a test harness for a
// real browser, stops at every redirect so the test can see it.
type browser struct {
	t      *testing.T
	e      *env
	client *http.Client
}

func (e *env) newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// submit posts a form the way a browser does from a page of the issuer.
func (b *browser) submit(path string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, b.e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.issuer)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns the hidden inputs of a page (the login UI's state).
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

func (b *browser) follow(resp *http.Response) (*http.Response, string) {
	b.t.Helper()
	loc, err := resp.Location()
	if err != nil {
		b.t.Fatalf("status %d without Location", resp.StatusCode)
	}
	return b.get(loc.String())
}

// TestLoginUIFlowAndSSO: the reference login UI in a cookie-keeping client:
// login form, 303 after the credentials, consent form, redirect with a
// code the relying party redeems; then a second client's request skips the
// login step thanks to the session cookie.
func TestLoginUIFlowAndSSO(t *testing.T) {
	e := newEnv(t)
	r1, r2 := e.newRP(nil), e.newRP(nil)
	b := e.newBrowser()

	verifier := oauth2.GenerateVerifier()
	resp, page := b.get(r1.conf.AuthCodeURL("state-1", oidc.Nonce("nonce-1"), oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) {
		t.Fatalf("GET /login: status %d, no login form:\n%s", resp.StatusCode, page)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("login page without %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q lacks frame-ancestors 'none'", csp)
	}
	form := hiddenFields(page)

	// A wrong password: an error page, no redirect, the session kept.
	bad := url.Values{"username": {"alice"}, "password": {"wrong"}}
	for k, v := range form {
		bad[k] = v
	}
	resp, page = b.submit("/login/authenticate", bad)
	if resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusFound || !strings.Contains(page, `name="password"`) {
		t.Fatalf("wrong password: status %d; want the login form again", resp.StatusCode)
	}
	form = hiddenFields(page)

	// A forged form without the CSRF token is refused.
	forged := url.Values{"username": {"alice"}, "password": {"alice-password"}, "sid": {form.Get("sid")}, "p": {form.Get("p")}}
	if resp, _ = b.submit("/login/authenticate", forged); resp.StatusCode < 400 {
		t.Errorf("a form without its CSRF token was accepted: status %d", resp.StatusCode)
	}

	good := url.Values{"username": {"alice"}, "password": {"alice-password"}}
	for k, v := range form {
		good[k] = v
	}
	resp, _ = b.submit("/login/authenticate", good)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("credentials: status %d, want 303", resp.StatusCode)
	}
	resp, page = b.follow(resp)
	if resp.StatusCode != 200 || !strings.Contains(page, `value="allow"`) {
		t.Fatalf("consent page: status %d:\n%s", resp.StatusCode, page)
	}
	consent := hiddenFields(page)
	consent.Set("action", "allow")
	consent.Set("remember", "1")
	resp, _ = b.submit("/login/consent", consent)
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), r1.redirectURI) {
		t.Fatalf("after consent: status %d location %v, want a redirect to the client", resp.StatusCode, loc)
	}
	if loc.Query().Get("state") != "state-1" || loc.Query().Get("iss") != e.issuer {
		t.Errorf("redirect %v lacks state or iss", loc)
	}
	var sidCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "sid" {
			sidCookie = c
		}
	}
	if sidCookie == nil || !sidCookie.HttpOnly || sidCookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie = %+v, want HttpOnly SameSite=Lax", sidCookie)
	}

	tok, err := r1.conf.Exchange(r1.ctx(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idToken, err := r1.verifier.Verify(r1.ctx(), tok.Extra("id_token").(string))
	if err != nil || idToken.Subject != "alice" || idToken.Nonce != "nonce-1" {
		t.Fatalf("ID token: %v %v", idToken, err)
	}

	// SSO: the second client's request goes straight to consent.
	resp, page = b.get(r2.conf.AuthCodeURL("state-2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.StatusCode != 200 || strings.Contains(page, `name="password"`) || !strings.Contains(page, `value="allow"`) {
		t.Fatalf("second client: status %d; want the consent page without a login form:\n%s", resp.StatusCode, page)
	}
	// And the first client again: consent was remembered, so the browser
	// is sent straight back with a code.
	resp, _ = b.get(r1.conf.AuthCodeURL("state-3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	loc, err = resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Errorf("first client again: status %d location %v, want an immediate redirect with a code", resp.StatusCode, loc)
	}
}

// TestLoginUIErrorPage: a request with an unknown client shows an error
// page and never redirects.
func TestLoginUIErrorPage(t *testing.T) {
	e := newEnv(t)
	b := e.newBrowser()
	resp, page := b.get(e.issuer + "/login?response_type=code&client_id=%3Cscript%3Ex&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=openid")
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Fatalf("status %d location %q, want a 400 error page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if strings.Contains(page, "<script>x") || strings.Contains(page, "evil.example") {
		t.Errorf("the error page reflects unescaped or untrusted input:\n%s", page)
	}
}
