package loginui_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/loginui"
	"github.com/keyward/keyward/plugin/users"
)

const apiToken = "ztucZS1ZyFKgh0tUEruUtiSTXhnexmd6-test-token"

// demoUsers hashes the demo passwords once for all tests (argon2id is slow
// on purpose).
var demoUsers = sync.OnceValues(users.Demo)

type harness struct {
	api     *fakeAPI
	ui      *httptest.Server
	browser *http.Client
}

type harnessOpt func(*loginui.Config, *fakeAPI)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	dir, err := demoUsers()
	if err != nil {
		t.Fatal(err)
	}
	api := newFakeAPI(apiToken)
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)
	cfg := loginui.Config{
		APIBase:       apiSrv.URL + apiPrefix,
		APIToken:      apiToken,
		HTTPClient:    apiSrv.Client(),
		Authenticator: dir,
		Title:         "Keyward",
	}
	for _, o := range opts {
		o(&cfg, api)
	}
	ui, err := loginui.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	uiSrv := httptest.NewServer(ui)
	t.Cleanup(uiSrv.Close)
	return &harness{api: api, ui: uiSrv, browser: newBrowser(t)}
}

// newBrowser returns a client with a cookie jar that does not follow
// redirects, so tests see every status and Location.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

type page struct {
	Status int
	Header http.Header
	Body   string
}

func (h *harness) do(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := h.browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (h *harness) get(t *testing.T, path string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.ui.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h.do(t, req)
}

func (h *harness) post(t *testing.T, path string, form url.Values, hdr map[string]string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.ui.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.do(t, req)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the first form on the page.
func hidden(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		if v.Has(m[1]) {
			continue
		}
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	if v.Get("sid") == "" || v.Get("csrf") == "" || v.Get("p") == "" {
		t.Fatalf("page has no prompt form fields:\n%s", body)
	}
	return v
}

func authzQuery(extra ...string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {"app1"}, "scope": {"openid email"},
		"state": {"s1"}, "redirect_uri": {"https://app1.example/cb"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q.Encode()
}

// login drives GET /login and a correct password; it returns the answer to
// the credentials POST.
func (h *harness) login(t *testing.T, query string) page {
	t.Helper()
	p := h.get(t, "/login?"+query)
	if p.Status != http.StatusOK {
		t.Fatalf("GET /login: status %d\n%s", p.Status, p.Body)
	}
	form := hidden(t, p.Body)
	form.Set("username", "alice")
	form.Set("password", "alice-password")
	return h.post(t, "/login/authenticate", form, nil)
}

// consentPage logs in and follows the 303 to the consent page.
func (h *harness) consentPage(t *testing.T, query string) page {
	t.Helper()
	p := h.login(t, query)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("credentials POST: status %d, want 303\n%s", p.Status, p.Body)
	}
	return h.get(t, p.Header.Get("Location"))
}

func TestAuthFormEscapesUntrustedText(t *testing.T) {
	const xss = `"><script>alert(1)</script>`
	h := newHarness(t, func(_ *loginui.Config, api *fakeAPI) {
		api.client = map[string]any{
			"client_id": "app1", "name": "Evil <script>alert(2)</script> App",
			"logo_uri": "https://cdn.app1.example/logo.png", "policy_uri": "javascript:alert(3)",
			"tos_uri": "https://app1.example/tos?a=1&b=2",
		}
	})
	p := h.get(t, "/login?"+authzQuery("login_hint", xss, "prompt", "create"))
	if p.Status != http.StatusOK {
		t.Fatalf("status %d\n%s", p.Status, p.Body)
	}
	for _, bad := range []string{"<script>alert(1)", "<script>alert(2)", "javascript:alert(3)", "<script"} {
		if strings.Contains(p.Body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{
		`value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`, // login_hint prefilled, escaped
		`Evil &lt;script&gt;alert(2)&lt;/script&gt; App`,
		`src="https://cdn.app1.example/logo.png"`,
		`href="https://app1.example/tos?a=1&amp;b=2"`,
		`create a new account`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("page lacks %q\n%s", want, p.Body)
		}
	}
	if strings.Contains(p.Body, "Privacy policy") {
		t.Error("a javascript: policy_uri was linked")
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"img-src 'self' https://cdn.app1.example", "form-action 'self' https://app1.example", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if got := h.api.lastCall(t, http.MethodPost).Auth; got != "Bearer "+apiToken {
		t.Errorf("API Authorization = %q", got)
	}
}

func TestRequiredSubShownAndEnforced(t *testing.T) {
	h := newHarness(t, func(_ *loginui.Config, api *fakeAPI) {
		api.startAnswer = map[string]any{"type": "auth", "sid": "authz-x", "required_sub": "bob"}
	})
	p := h.get(t, "/login?"+authzQuery())
	if !strings.Contains(p.Body, "<strong>bob</strong>") {
		t.Fatalf("required_sub not shown\n%s", p.Body)
	}
	form := hidden(t, p.Body)
	form.Set("username", "alice")
	form.Set("password", "alice-password")
	p = h.post(t, "/login/authenticate", form, nil)
	if p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, "different account") {
		t.Errorf("signing in as another subject: status %d\n%s", p.Status, p.Body)
	}
	for _, c := range h.api.Calls() {
		if c.Method == http.MethodPut {
			t.Errorf("subject was submitted despite required_sub mismatch: %+v", c)
		}
	}
}

func TestCSRFRejection(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, "/login?"+authzQuery())
	good := hidden(t, p.Body)
	good.Set("username", "alice")
	good.Set("password", "alice-password")

	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	other := newHarness(t) // another browser of another UI instance with another key
	op := other.get(t, "/login?"+authzQuery())
	otherForm := hidden(t, op.Body)

	tests := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"missing token", with("csrf", ""), nil},
		{"wrong token", with("csrf", "AAAAAAAAAAAAAAAAAAAAAA"), nil},
		{"token of another browser", with("csrf", otherForm.Get("csrf")), nil},
		{"state of another browser", with("p", otherForm.Get("p")), nil},
		{"tampered sid", with("sid", "authz-999"), nil},
		{"missing state", with("p", ""), nil},
		{"cross-origin post (Origin)", good, map[string]string{"Origin": "https://evil.example"}},
		{"cross-site post (Sec-Fetch-Site)", good, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := h.post(t, "/login/authenticate", tc.form, tc.hdr)
			if p.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403\n%s", p.Status, p.Body)
			}
			checkSecurityHeaders(t, p)
		})
	}
	for _, c := range h.api.Calls() {
		if c.Method == http.MethodPut {
			t.Fatalf("a rejected form reached the API: %+v", c)
		}
	}
	// Same-origin browser headers pass, which proves the cases above failed
	// for the reason they name.
	p = h.post(t, "/login/authenticate", good, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": h.ui.URL})
	if p.Status != http.StatusSeeOther {
		t.Errorf("valid form: status %d, want 303\n%s", p.Status, p.Body)
	}
}

func TestWrongPasswordDoesNotEnumerate(t *testing.T) {
	h := newHarness(t)
	attempt := func(user, pass string) page {
		p := h.get(t, "/login?"+authzQuery())
		form := hidden(t, p.Body)
		form.Set("username", user)
		form.Set("password", pass)
		return h.post(t, "/login/authenticate", form, nil)
	}
	wrongPass := attempt("alice", "not-her-password")
	noUser := attempt("mallory", "whatever")
	emptyPass := attempt("alice", "")
	norm := func(s string) string { // drop per-session values
		s = hiddenRE.ReplaceAllString(s, "")
		return strings.ReplaceAll(s, "mallory", "alice")
	}
	for name, p := range map[string]page{"wrong password": wrongPass, "unknown user": noUser, "empty password": emptyPass} {
		if p.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, p.Status)
		}
		if !strings.Contains(p.Body, "The username or password is incorrect.") {
			t.Errorf("%s: no generic error\n%s", name, p.Body)
		}
		if strings.Contains(p.Body, "not-her-password") {
			t.Errorf("%s: password echoed into the page", name)
		}
	}
	if diff := cmp.Diff(norm(wrongPass.Body), norm(noUser.Body)); diff != "" {
		t.Errorf("unknown user and wrong password pages differ (-wrong +unknown):\n%s", diff)
	}
	// The re-rendered form still carries the session: logging in now works.
	form := hidden(t, wrongPass.Body)
	form.Set("username", "alice")
	form.Set("password", "alice-password")
	if p := h.post(t, "/login/authenticate", form, nil); p.Status != http.StatusSeeOther {
		t.Errorf("retry after failure: status %d\n%s", p.Status, p.Body)
	}
}

func TestCredentialsAnswer303ToConsentPage(t *testing.T) {
	h := newHarness(t)
	p := h.login(t, authzQuery())
	if p.Status != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", p.Status)
	}
	put := h.api.lastCall(t, http.MethodPut)
	if diff := cmp.Diff(map[string]any{"sub": "alice", "amr": []any{"pwd"}}, put.Body); diff != "" {
		t.Errorf("subject authentication body (-want +got):\n%s", diff)
	}
	loc := p.Header.Get("Location")
	if !strings.HasPrefix(loc, "/login/prompt?p=") {
		t.Fatalf("Location %q", loc)
	}
	calls := len(h.api.Calls())
	for i := range 2 { // refresh renders the same page without touching the API
		c := h.get(t, loc)
		if c.Status != http.StatusOK {
			t.Fatalf("consent GET #%d: status %d\n%s", i, c.Status, c.Body)
		}
		for _, want := range []string{
			"App One", "<strong>alice</strong>", "Your email address", "<code>offline_access</code>",
			"Keep access while you are not using the application", "Email address</span> <em class=\"tag\">required</em>",
			"Already allowed", "<code>profile</code>", "Remember this decision",
		} {
			if !strings.Contains(c.Body, want) {
				t.Errorf("consent page lacks %q", want)
			}
		}
	}
	if got := len(h.api.Calls()); got != calls {
		t.Errorf("rendering the consent page called the API %d times", got-calls)
	}
	// Another browser cannot open the PRG URL (it is bound to this one).
	stranger := newBrowser(t)
	resp, err := stranger.Get(h.ui.URL + loc)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PRG URL in another browser: status %d, want 400", resp.StatusCode)
	}
}

func TestConsentDecisions(t *testing.T) {
	tests := []struct {
		name       string
		form       url.Values
		wantMethod string
		wantBody   map[string]any
		wantParam  string
	}{
		{
			name:       "allow and remember",
			form:       url.Values{"action": {"allow"}, "remember": {"1"}},
			wantMethod: http.MethodPut,
			wantBody: map[string]any{
				"scope":         []any{"profile", "openid", "email", "offline_access"},
				"claims":        []any{"name", "email", "email_verified"},
				"long_lived":    true,
				"refresh_token": map[string]any{"issue": true},
			},
			wantParam: "code=code-123",
		},
		{
			name:       "allow once",
			form:       url.Values{"action": {"allow"}},
			wantMethod: http.MethodPut,
			wantBody: map[string]any{
				"scope":         []any{"profile", "openid", "email", "offline_access"},
				"claims":        []any{"name", "email", "email_verified"},
				"long_lived":    false,
				"refresh_token": map[string]any{"issue": true},
			},
			wantParam: "code=code-123",
		},
		{
			name:       "deny",
			form:       url.Values{"action": {"deny"}, "remember": {"1"}},
			wantMethod: http.MethodDelete,
			wantParam:  "error=access_denied",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c := h.consentPage(t, authzQuery())
			form := hidden(t, c.Body)
			for k, v := range tc.form {
				form[k] = v
			}
			p := h.post(t, "/login/consent", form, nil)
			if p.Status != http.StatusSeeOther {
				t.Fatalf("status %d, want 303\n%s", p.Status, p.Body)
			}
			loc := p.Header.Get("Location")
			if !strings.HasPrefix(loc, "https://app1.example/cb?") || !strings.Contains(loc, tc.wantParam) || !strings.Contains(loc, "state=s1") {
				t.Errorf("Location %q, want the client with %s", loc, tc.wantParam)
			}
			call := h.api.lastCall(t, tc.wantMethod)
			if call.Path != apiPrefix+"/authz-1" {
				t.Errorf("%s %s", call.Method, call.Path)
			}
			if tc.wantBody != nil {
				if diff := cmp.Diff(tc.wantBody, call.Body); diff != "" {
					t.Errorf("consent body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCancelFromLoginPage(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, "/login?"+authzQuery())
	p = h.post(t, "/login/cancel", hidden(t, p.Body), nil)
	if p.Status != http.StatusSeeOther || !strings.Contains(p.Header.Get("Location"), "error=access_denied") {
		t.Errorf("cancel: status %d Location %q", p.Status, p.Header.Get("Location"))
	}
	h.api.lastCall(t, http.MethodDelete)
}

func TestSubjectCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "secure"}[secure], func(t *testing.T) {
			h := newHarness(t, func(c *loginui.Config, _ *fakeAPI) { c.SecureCookies = secure })
			c := h.consentPage(t, authzQuery())
			form := hidden(t, c.Body)
			form.Set("action", "allow")
			p := h.post(t, "/login/consent", form, nil)
			var sid *http.Cookie
			for _, ck := range (&http.Response{Header: p.Header}).Cookies() {
				if ck.Name == "sid" {
					sid = ck
				}
			}
			if sid == nil {
				t.Fatalf("no sid cookie; Set-Cookie: %q", p.Header.Values("Set-Cookie"))
			}
			got := struct {
				Value    string
				Path     string
				HttpOnly bool
				Secure   bool
				SameSite http.SameSite
				LongLife bool
			}{sid.Value, sid.Path, sid.HttpOnly, sid.Secure, sid.SameSite, sid.MaxAge >= 30*24*3600}
			want := got
			want.Value, want.Path, want.HttpOnly, want.Secure, want.SameSite, want.LongLife = "subsess-alice", "/", true, secure, http.SameSiteLaxMode, true
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sid cookie (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSSOCookieIsSentAsSubSID(t *testing.T) {
	h := newHarness(t, func(_ *loginui.Config, api *fakeAPI) { api.ssoSubSID = "subsess-alice" })
	// First flow sets the cookie ...
	c := h.consentPage(t, authzQuery())
	form := hidden(t, c.Body)
	form.Set("action", "allow")
	h.post(t, "/login/consent", form, nil)
	// ... the second goes straight to consent on GET /login.
	p := h.get(t, "/login?"+authzQuery())
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "Allow access?") {
		t.Fatalf("second flow: status %d\n%s", p.Status, p.Body)
	}
	if got := h.api.lastCall(t, http.MethodPost).Body["sub_sid"]; got != "subsess-alice" {
		t.Errorf("sub_sid sent = %v", got)
	}
}

func TestFormPostResponse(t *testing.T) {
	h := newHarness(t)
	c := h.consentPage(t, authzQuery("response_mode", "form_post", "state", `s"><x`))
	form := hidden(t, c.Body)
	form.Set("action", "allow")
	p := h.post(t, "/login/consent", form, nil)
	if p.Status != http.StatusOK {
		t.Fatalf("status %d\n%s", p.Status, p.Body)
	}
	for _, want := range []string{
		`<form method="post" action="https://app1.example/cb" id="response">`,
		`<input type="hidden" name="code" value="code-123">`,
		`<input type="hidden" name="state" value="s&#34;&gt;&lt;x">`,
		`<noscript>`,
	} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("form_post page lacks %q\n%s", want, p.Body)
		}
	}
	m := regexp.MustCompile(`<script nonce="([A-Za-z0-9_-]{22})">`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no nonce'd script\n%s", p.Body)
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'nonce-" + m[1] + "'", "form-action 'self' https://app1.example"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	checkSecurityHeaders(t, p)
}

func TestErrorPageEscapes(t *testing.T) {
	h := newHarness(t, func(_ *loginui.Config, api *fakeAPI) {
		api.startAnswer = map[string]any{
			"type": "error", "error": "invalid_request",
			"error_description": `bad redirect_uri <img src=x onerror=alert(1)>`, "error_uri": "javascript:alert(2)",
		}
	})
	p := h.get(t, "/login?"+authzQuery())
	if p.Status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", p.Status)
	}
	if strings.Contains(p.Body, "<img") || strings.Contains(p.Body, "javascript:") {
		t.Errorf("error page not escaped\n%s", p.Body)
	}
	for _, want := range []string{"invalid_request", "bad redirect_uri &lt;img src=x onerror=alert(1)&gt;"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("error page lacks %q", want)
		}
	}
	checkSecurityHeaders(t, p)
}

func TestAPIFailures(t *testing.T) {
	tests := []struct {
		name       string
		putStatus  int
		dropSess   bool
		wantStatus int
		wantText   string
	}{
		{"expired session", 0, true, http.StatusNotFound, "Your sign-in session expired"},
		{"server error", http.StatusInternalServerError, false, http.StatusBadGateway, "temporarily unavailable"},
		{"unauthorised token", http.StatusUnauthorized, false, http.StatusBadGateway, "temporarily unavailable"},
		{"rejected", http.StatusBadRequest, false, http.StatusBadRequest, "can no longer be continued"},
		// The API's store or Redis is down: a 503 page with Retry-After.
		{"store unavailable", http.StatusServiceUnavailable, false, http.StatusServiceUnavailable, "temporarily unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.get(t, "/login?"+authzQuery())
			form := hidden(t, p.Body)
			form.Set("username", "alice")
			form.Set("password", "alice-password")
			h.api.mu.Lock()
			h.api.putStatus = tc.putStatus
			if tc.dropSess {
				delete(h.api.sessions, form.Get("sid"))
			}
			h.api.mu.Unlock()
			p = h.post(t, "/login/authenticate", form, nil)
			if p.Status != tc.wantStatus || !strings.Contains(p.Body, tc.wantText) {
				t.Errorf("status %d, want %d with %q\n%s", p.Status, tc.wantStatus, tc.wantText, p.Body)
			}
			if ra := p.Header.Get("Retry-After"); (tc.wantStatus == http.StatusServiceUnavailable) != (ra != "") {
				t.Errorf("status %d with Retry-After %q", p.Status, ra)
			}
			if strings.Contains(p.Body, "NullPointer") || strings.Contains(p.Body, "internal") {
				t.Errorf("page leaks API internals\n%s", p.Body)
			}
			checkSecurityHeaders(t, p)
		})
	}
}

func TestAPIUnreachable(t *testing.T) {
	dir, err := demoUsers()
	if err != nil {
		t.Fatal(err)
	}
	ui, err := loginui.New(loginui.Config{
		APIBase: "http://api.invalid" + apiPrefix, APIToken: apiToken, Authenticator: dir,
		HTTPClient: &http.Client{Transport: failingTransport{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login?"+authzQuery(), nil))
	if rec.Code != http.StatusBadGateway || strings.Contains(rec.Body.String(), "api.invalid") {
		t.Errorf("status %d\n%s", rec.Code, rec.Body)
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp api.invalid: no such host")
}

// TestAuthorizationRequestAsPOST: OIDC Core §3.1.2.1 allows the request as a
// form POST, sent cross-site by the client (conformance module
// oidcc-ensure-post-request-succeeds).
func TestAuthorizationRequestAsPOST(t *testing.T) {
	h := newHarness(t)
	q, _ := url.ParseQuery(authzQuery("login_hint", "bob"))
	p := h.post(t, "/login", q, map[string]string{"Origin": "https://app1.example", "Sec-Fetch-Site": "cross-site"})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `value="bob"`) {
		t.Fatalf("status %d\n%s", p.Status, p.Body)
	}
	sent, err := url.ParseQuery(h.api.lastCall(t, http.MethodPost).Body["query"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(q, sent); diff != "" {
		t.Errorf("query sent to the API (-want +got):\n%s", diff)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/login?" + authzQuery(), "/login?foo=bar", "/login/prompt?p=garbage"} {
		p := h.get(t, path)
		if p.Status >= 500 {
			t.Errorf("%s: status %d", path, p.Status)
		}
		checkSecurityHeaders(t, p)
	}
	css := h.get(t, "/login/static/style.css")
	if css.Status != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") || !strings.Contains(css.Body, ".card") {
		t.Errorf("style.css: status %d type %q", css.Status, css.Header.Get("Content-Type"))
	}
	if p := h.get(t, "/login/nope"); p.Status != http.StatusNotFound {
		t.Errorf("unknown path: status %d", p.Status)
	}
	big := url.Values{"p": {strings.Repeat("A", 100<<10)}}
	if p := h.post(t, "/login/authenticate", big, nil); p.Status != http.StatusBadRequest {
		t.Errorf("oversized form: status %d, want 400", p.Status)
	}
}

func checkSecurityHeaders(t *testing.T, p page) {
	t.Helper()
	want := map[string]string{
		"X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer",
		"Cache-Control":   "no-store",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = p.Header.Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("security headers (-want +got):\n%s", diff)
	}
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	auth := authFunc(func(context.Context, string, string) (string, error) { return "", errors.New("no") })
	base := loginui.Config{APIBase: "http://x" + apiPrefix, APIToken: apiToken, Authenticator: auth}
	tests := []struct {
		name   string
		mutate func(*loginui.Config)
		ok     bool
	}{
		{"valid", func(*loginui.Config) {}, true},
		{"no API base", func(c *loginui.Config) { c.APIBase = "" }, false},
		{"no token", func(c *loginui.Config) { c.APIToken = "" }, false},
		{"no authenticator", func(c *loginui.Config) { c.Authenticator = nil }, false},
		{"base path with slash", func(c *loginui.Config) { c.BasePath = "/login/" }, false},
		{"relative base path", func(c *loginui.Config) { c.BasePath = "login" }, false},
		{"short state key", func(c *loginui.Config) { c.StateKey = []byte("short") }, false},
		{"custom base path", func(c *loginui.Config) { c.BasePath = "/auth/ui" }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mutate(&c)
			_, err := loginui.New(c)
			if (err == nil) != tc.ok {
				t.Errorf("New: err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

type authFunc func(ctx context.Context, username, password string) (string, error)

func (f authFunc) Authenticate(ctx context.Context, u, p string) (string, error) { return f(ctx, u, p) }

func TestPromptStateExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, func(c *loginui.Config, _ *fakeAPI) { c.Now = clock })
	p := h.login(t, authzQuery())
	loc := p.Header.Get("Location")
	tests := []struct {
		after time.Duration
		want  int
	}{
		{29 * time.Minute, http.StatusOK},
		{31 * time.Minute, http.StatusBadRequest},
	}
	for _, tc := range tests {
		mu.Lock()
		now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(tc.after)
		mu.Unlock()
		if got := h.get(t, loc).Status; got != tc.want {
			t.Errorf("after %v: status %d, want %d", tc.after, got, tc.want)
		}
	}
}

// TestRepeatedAuthPromptAfterPost: a second auth prompt (e.g. ACR step-up)
// after the credentials POST is shown through the PRG page, hint prefilled.
func TestRepeatedAuthPromptAfterPost(t *testing.T) {
	h := newHarness(t)
	p := h.get(t, "/login?"+authzQuery())
	form := hidden(t, p.Body)
	form.Set("username", "alice")
	form.Set("password", "alice-password")
	// Make the fake answer the PUT with another auth prompt.
	h.api.mu.Lock()
	h.api.putAnswer = map[string]any{"type": "auth", "sid": form.Get("sid"), "login_hint": "alice@example.com"}
	h.api.mu.Unlock()
	p = h.post(t, "/login/authenticate", form, nil)
	if p.Status != http.StatusSeeOther {
		t.Fatalf("status %d", p.Status)
	}
	p = h.get(t, p.Header.Get("Location"))
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `value="alice@example.com"`) || !strings.Contains(p.Body, "/login/authenticate") {
		t.Errorf("status %d\n%s", p.Status, p.Body)
	}
}

// TestFailedSignInsAreThrottled: after the allowed failures for one
// username from one address, further attempts are refused with 429 without
// checking the password, until the window has passed; another username is
// not affected, and a success clears the count.
func TestFailedSignInsAreThrottled(t *testing.T) {
	var mu sync.Mutex
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	dir, err := demoUsers()
	if err != nil {
		t.Fatal(err)
	}
	var checks int
	counting := authFunc(func(ctx context.Context, u, p string) (string, error) {
		mu.Lock()
		checks++
		mu.Unlock()
		return dir.Authenticate(ctx, u, p)
	})
	h := newHarness(t, func(c *loginui.Config, _ *fakeAPI) {
		c.Now, c.Authenticator, c.MaxFailedSignIns, c.FailedSignInWindow = clock, counting, 3, 10*time.Minute
	})
	attempt := func(user, pass string) page {
		p := h.get(t, "/login?"+authzQuery())
		form := hidden(t, p.Body)
		form.Set("username", user)
		form.Set("password", pass)
		return h.post(t, "/login/authenticate", form, nil)
	}
	for i := range 3 {
		if p := attempt("alice", "wrong"); p.Status != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, p.Status)
		}
	}
	mu.Lock()
	before := checks
	mu.Unlock()
	p := attempt("alice", "alice-password")
	if p.Status != http.StatusTooManyRequests || p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many failed sign-in attempts") {
		t.Fatalf("after 3 failures: status %d Retry-After %q, want 429 with a message", p.Status, p.Header.Get("Retry-After"))
	}
	mu.Lock()
	if checks != before {
		t.Error("a throttled attempt still checked the password")
	}
	mu.Unlock()
	if p := attempt("bob", "bob-password"); p.Status != http.StatusSeeOther {
		t.Errorf("another user from the same address: status %d, want 303", p.Status)
	}

	mu.Lock()
	now = start.Add(11 * time.Minute)
	mu.Unlock()
	if p := attempt("alice", "alice-password"); p.Status != http.StatusSeeOther {
		t.Fatalf("after the window: status %d, want 303", p.Status)
	}
	// The success cleared the count: two more failures are not yet throttled.
	attempt("alice", "wrong")
	attempt("alice", "wrong")
	if p := attempt("alice", "alice-password"); p.Status != http.StatusSeeOther {
		t.Errorf("after a success and two failures: status %d, want 303", p.Status)
	}
}

// Outside --dev the server names the subject cookie __Host-sid: every
// cookie the UI sets then meets its prefix's rules (RFC 6265bis §4.1.3),
// or a browser would drop it, and every cookie is Secure, HttpOnly and
// SameSite=Lax.
func TestHostPrefixedCookies(t *testing.T) {
	h := newHarness(t, func(c *loginui.Config, _ *fakeAPI) { c.SecureCookies, c.CookieName = true, "__Host-sid" })
	first := h.get(t, "/login?"+authzQuery())
	c := h.consentPage(t, authzQuery())
	form := hidden(t, c.Body)
	form.Set("action", "allow")
	p := h.post(t, "/login/consent", form, nil)
	names := map[string]bool{}
	for _, hdr := range []http.Header{first.Header, c.Header, p.Header} {
		for _, ck := range (&http.Response{Header: hdr}).Cookies() {
			names[ck.Name] = true
			if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v", ck.Name, ck.Secure, ck.HttpOnly, ck.SameSite)
			}
			switch {
			case strings.HasPrefix(ck.Name, "__Host-"):
				if ck.Path != "/" || ck.Domain != "" {
					t.Errorf("cookie %s: Path %q Domain %q, __Host- needs Path=/ and no Domain", ck.Name, ck.Path, ck.Domain)
				}
			case strings.HasPrefix(ck.Name, "__Secure-"):
			default:
				t.Errorf("cookie %s has no __Host- or __Secure- prefix", ck.Name)
			}
		}
	}
	if !names["__Host-sid"] || !names["__Secure-sid_csrf"] {
		t.Errorf("cookies set: %v, want __Host-sid and __Secure-sid_csrf", names)
	}
}
