package loginui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/secret"
)

// Authenticator checks a username and password and returns the subject
// (local user id). Any error is reported to the user as the same generic
// failure, so implementations need not distinguish unknown users from wrong
// passwords; only an *oauth.Error temporarily_unavailable (a directory
// outage) shows a "try again" page instead. plugin/users.Directory and
// plugin/ldap.Source (login.directory) satisfy it.
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (sub string, err error)
}

// Config configures the UI. APIBase, APIToken and Authenticator are
// required.
type Config struct {
	// APIBase is the authorisation session API base, e.g.
	// "http://localhost:8080/authz-sessions/rest/v3", or any URL the
	// HTTPClient's transport understands.
	APIBase string
	// APIToken is the bearer token of the authorisation session API. Unless
	// StateKey is set, the UI's CSRF and state keys are derived from it, so
	// that every node sharing the token accepts the others' pages.
	APIToken string
	// HTTPClient talks to the API; default: a client with a 10 s timeout.
	HTTPClient    *http.Client
	Authenticator Authenticator
	// BasePath is the mount point and the advertised authorization_endpoint
	// path; default "/login".
	BasePath string
	// LogoutAPIBase is the logout session API base, e.g.
	// "http://localhost:8080/logout-sessions/rest/v1"; empty: no logout
	// page. It is called with APIToken.
	LogoutAPIBase string
	// LogoutPath is the mount point of the logout page, the advertised
	// end_session_endpoint path; default "/logout".
	LogoutPath string
	// SecureCookies sets the Secure attribute on every cookie (https issuer).
	SecureCookies bool
	// CookieName names the subject session cookie; default "sid". The
	// per-browser CSRF binding cookie is CookieName + "_csrf".
	CookieName string
	Log        *slog.Logger
	// Title is the product name shown on pages; default "Keyward".
	Title string

	// StateKey optionally replaces the API token as the root of the UI's
	// keys (at least 32 bytes).
	StateKey []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxFailedSignIns sign-in attempts for one username from one client
	// address within FailedSignInWindow refuse that pair until the window
	// has passed; defaults 5 and 15 minutes. An attempt counts from before
	// its password is checked until it succeeds, so parallel requests
	// cannot exceed the limit.
	MaxFailedSignIns   int
	FailedSignInWindow time.Duration
	// MaxConcurrentSignIns bounds the password checks running at once
	// (each argon2id check holds its memory cost, 19 MiB by default); more
	// sign-ins wait for a slot. Default 4.
	MaxConcurrentSignIns int

	// ClientAddr returns the client address of a request for the
	// throttle; default: the host of RemoteAddr. Behind a reverse proxy
	// the server passes the address it resolved from the trusted proxies'
	// forwarded headers.
	ClientAddr func(r *http.Request) string
	// RateLimit is asked before each password check (the server's
	// rate_limits.login); a positive wait refuses the sign-in with 429
	// and Retry-After without checking the password. Nil: no limit.
	RateLimit func(r *http.Request, username string) time.Duration
}

// subjectCookieMaxAge is the lifetime of the subject session cookie; the
// server enforces the session's real lifetime (sessions.max_life, 180 d by
// default, docs/configuration.md).
const subjectCookieMaxAge = 180 * 24 * 60 * 60

// maxFormBytes caps every form body the UI parses.
const maxFormBytes = 64 << 10

// maxQueryBytes bounds the authorisation request the UI forwards: it must
// fit, JSON-escaped, in the session API's 50,000-byte body limit.
const maxQueryBytes = 32 << 10

// UI is the login and consent UI. It is an http.Handler, safe for
// concurrent use, and holds no per-user state in memory.
type UI struct {
	api        *apiClient
	auth       Authenticator
	base       string
	logoutAPI  string
	logoutPath string
	secure     bool
	cookie     string
	bindCookie string
	log        *slog.Logger
	title      string
	keys       *keys
	throttle   *throttle
	clientAddr func(*http.Request) string
	rateLimit  func(*http.Request, string) time.Duration
	verify     gate
	now        func() time.Time
	pages      map[string]*template.Template
	static     http.Handler
	handler    http.Handler
}

// New validates cfg and builds the UI.
func New(cfg Config) (*UI, error) {
	if cfg.APIBase == "" {
		return nil, errors.New("loginui: APIBase is required")
	}
	if _, err := url.Parse(cfg.APIBase); err != nil {
		return nil, fmt.Errorf("loginui: APIBase: %w", err)
	}
	if cfg.APIToken == "" {
		return nil, errors.New("loginui: APIToken is required")
	}
	if cfg.Authenticator == nil {
		return nil, errors.New("loginui: Authenticator is required")
	}
	if cfg.MaxFailedSignIns < 0 || cfg.FailedSignInWindow < 0 || cfg.MaxConcurrentSignIns < 0 {
		return nil, errors.New("loginui: MaxFailedSignIns, FailedSignInWindow and MaxConcurrentSignIns must not be negative")
	}
	base := cfg.BasePath
	if base == "" {
		base = "/login"
	}
	if !strings.HasPrefix(base, "/") || strings.HasSuffix(base, "/") || strings.ContainsAny(base, " {}") {
		return nil, fmt.Errorf("loginui: BasePath %q must start with / and not end with /", base)
	}
	root := cfg.StateKey
	if root == nil {
		root = []byte(cfg.APIToken)
	} else if len(root) < 32 {
		return nil, errors.New("loginui: StateKey must be at least 32 bytes")
	}
	k, err := deriveKeys(root)
	if err != nil {
		return nil, fmt.Errorf("loginui: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, fmt.Errorf("loginui: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	u := &UI{
		api:    &apiClient{base: strings.TrimRight(cfg.APIBase, "/"), token: cfg.APIToken, http: hc},
		auth:   cfg.Authenticator,
		base:   base,
		secure: cfg.SecureCookies,
		cookie: cmp.Or(cfg.CookieName, "sid"),
		log:    cfg.Log,
		title:  cmp.Or(cfg.Title, "Keyward"),
		keys:   k,
		now:    cfg.Now,
		pages:  pages,
	}
	u.bindCookie = u.cookie + "_csrf"
	if name, ok := strings.CutPrefix(u.cookie, "__Host-"); ok {
		// The binding cookie is scoped to the UI's path, and __Host-
		// requires Path=/ (RFC 6265bis §4.1.3.2): __Secure- is the
		// strongest prefix it can carry.
		u.bindCookie = "__Secure-" + name + "_csrf"
	}
	u.clientAddr, u.rateLimit = cfg.ClientAddr, cfg.RateLimit
	if u.clientAddr == nil {
		u.clientAddr = remoteHost
	}
	if cfg.LogoutAPIBase != "" {
		if _, err := url.Parse(cfg.LogoutAPIBase); err != nil {
			return nil, fmt.Errorf("loginui: LogoutAPIBase: %w", err)
		}
		u.logoutAPI = strings.TrimRight(cfg.LogoutAPIBase, "/")
		u.logoutPath = cmp.Or(cfg.LogoutPath, "/logout")
		if !strings.HasPrefix(u.logoutPath, "/") || strings.HasSuffix(u.logoutPath, "/") ||
			strings.ContainsAny(u.logoutPath, " {}") || u.logoutPath == base {
			return nil, fmt.Errorf("loginui: LogoutPath %q must start with /, not end with / and differ from BasePath", u.logoutPath)
		}
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	u.throttle = newThrottle(u.now, cmp.Or(cfg.MaxFailedSignIns, 5), cmp.Or(cfg.FailedSignInWindow, 15*time.Minute))
	u.verify = make(gate, cmp.Or(cfg.MaxConcurrentSignIns, 4))
	sub, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("loginui: %w", err)
	}
	u.static = http.StripPrefix(base+"/static/", http.FileServerFS(sub))
	u.handler = u.routes()
	return u, nil
}

// ServeHTTP serves GET and POST BasePath (the authorisation endpoint; POST
// for requests sent as a form, OIDC Core §3.1.2.1), POST
// BasePath/authenticate, GET BasePath/prompt, POST BasePath/consent, POST
// BasePath/cancel and BasePath/static/; with a logout API, GET and POST
// LogoutPath (the end-session endpoint) and POST LogoutPath/confirm.
// Other paths answer 404.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.handler.ServeHTTP(w, r)
}

func (u *UI) routes() http.Handler {
	mux := http.NewServeMux()
	b := u.base
	mux.HandleFunc("GET "+b, u.handleStart)
	mux.HandleFunc("POST "+b, u.handleStart)
	mux.HandleFunc("POST "+b+"/authenticate", u.handleAuthenticate)
	mux.HandleFunc("GET "+b+"/prompt", u.handlePrompt)
	mux.HandleFunc("POST "+b+"/consent", u.handleConsent)
	mux.HandleFunc("POST "+b+"/cancel", u.handleCancel)
	mux.Handle("GET "+b+"/static/", u.staticHandler())
	if u.logoutAPI != "" {
		mux.HandleFunc("GET "+u.logoutPath, u.handleLogout)
		mux.HandleFunc("POST "+u.logoutPath, u.handleLogout)
		mux.HandleFunc("POST "+u.logoutPath+"/confirm", u.handleLogoutConfirm)
	}

	cop := http.NewCrossOriginProtection()
	// The authorisation request itself arrives cross-site from the client
	// (conformance module oidcc-ensure-post-request-succeeds sends it as a
	// POST form); it changes nothing the user has not yet been asked about,
	// exactly like the GET.
	cop.AddInsecureBypassPattern("POST " + b)
	if u.logoutAPI != "" {
		// RP-Initiated Logout 1.0 §2 lets the relying party POST the
		// request; like the GET it only leads to the confirmation page.
		// The confirmation itself stays same-origin only.
		cop.AddInsecureBypassPattern("POST " + u.logoutPath)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.log.WarnContext(r.Context(), "cross-origin form post rejected", "path", r.URL.Path)
		u.renderMessage(w, r, http.StatusForbidden, "Request blocked",
			"This form was submitted from another site. Return to the application and try again.")
	}))
	return cop.Handler(mux)
}

func (u *UI) staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=3600")
		u.static.ServeHTTP(w, r)
	})
}

// binding returns the browser's CSRF binding value, issuing the cookie when
// the browser has none yet. Only the entry points create it; later steps
// must find the one they were issued.
func (u *UI) binding(w http.ResponseWriter, r *http.Request, create bool) string {
	return u.bindingAt(w, r, create, u.base)
}

// bindingAt is binding for the pages under path (the cookie's Path).
func (u *UI) bindingAt(w http.ResponseWriter, r *http.Request, create bool, path string) string {
	if c, err := r.Cookie(u.bindCookie); err == nil && c.Value != "" && len(c.Value) <= 64 {
		return c.Value
	}
	if !create {
		return ""
	}
	v, err := secret.Token(nil, 16)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name:     u.bindCookie,
		Value:    v,
		Path:     path,
		HttpOnly: true,
		Secure:   u.secure,
		SameSite: http.SameSiteLaxMode,
	})
	return v
}

// setSubjectCookie stores the subject session id (docs/api.md §5) so that
// the next authorisation request can use SSO.
func (u *UI) setSubjectCookie(w http.ResponseWriter, subSID string) {
	if subSID == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     u.cookie,
		Value:    subSID,
		Path:     "/",
		MaxAge:   subjectCookieMaxAge,
		HttpOnly: true,
		Secure:   u.secure,
		SameSite: http.SameSiteLaxMode,
	})
}
