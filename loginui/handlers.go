package loginui

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/oauth"
)

// handleStart receives the browser's authorisation request (RFC 6749
// §4.1.1; as GET query or, OIDC Core §3.1.2.1, as a POST form) and opens an
// authorisation session with it.
func (u *UI) handleStart(w http.ResponseWriter, r *http.Request) {
	query := r.URL.RawQuery
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			u.renderMessage(w, r, http.StatusBadRequest, "Invalid request",
				"The sign-in request could not be read. Return to the application and try again.")
			return
		}
		query = r.PostForm.Encode()
	}
	if len(query) > maxQueryBytes || strings.Count(query, "&") >= oauth.MaxParams {
		// Beyond what the session API takes (docs/api.md §23): answered
		// here, as the API would, rather than as an upstream failure.
		u.renderMessage(w, r, http.StatusBadRequest, "Invalid request",
			"The sign-in request is too large. Return to the application and try again.")
		return
	}
	var subSID string
	if c, err := r.Cookie(u.cookie); err == nil {
		subSID = c.Value
	}
	binding := u.binding(w, r, true)
	msg, err := u.api.start(r.Context(), query, subSID)
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	st := &pageState{Targets: redirectTargets(query)}
	u.next(w, r, msg, st, binding, false)
}

// handlePrompt is the GET target of the post/redirect/get pattern: it shows
// the prompt sealed into the p parameter without calling the API, so refresh
// and back are harmless.
func (u *UI) handlePrompt(w http.ResponseWriter, r *http.Request) {
	binding := u.binding(w, r, false)
	st, err := u.keys.open(r.URL.Query().Get("p"), binding, u.now())
	if err != nil {
		u.stateFailure(w, r)
		return
	}
	switch st.Msg.Type {
	case typeAuth:
		u.renderAuth(w, r, http.StatusOK, st, binding, st.Msg.LoginHint, "")
	case typeConsent:
		u.renderConsent(w, r, st, binding)
	default:
		u.stateFailure(w, r)
	}
}

// handleAuthenticate checks the credentials and submits the subject
// (docs/api.md §3, step 2).
func (u *UI) handleAuthenticate(w http.ResponseWriter, r *http.Request) {
	st, binding, ok := u.formState(w, r, typeAuth)
	if !ok {
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	key := keyForAddr(u.clientAddr(r), username)
	if u.rateLimit != nil {
		if wait := u.rateLimit(r, username); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			u.log.WarnContext(r.Context(), "audit", "event", "login_rate_limited", "username_sha256", usernameHash(username), "client_address", u.clientAddr(r))
			u.renderAuth(w, r, http.StatusTooManyRequests, st, binding, username,
				"Too many sign-in attempts. Please wait a moment and try again.")
			return
		}
	}
	if wait := u.throttle.attempt(key); wait > 0 {
		minutes := int(wait.Round(time.Minute) / time.Minute)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		u.log.WarnContext(r.Context(), "audit", "event", "login_throttled", "username_sha256", usernameHash(username),
			"client_address", u.clientAddr(r))
		u.renderAuth(w, r, http.StatusTooManyRequests, st, binding, username,
			fmt.Sprintf("Too many failed sign-in attempts. Try again in %d minute(s).", max(minutes, 1)))
		return
	}
	sub, err := "", errors.New("empty credentials")
	if username != "" && password != "" {
		if err := u.verify.enter(r.Context()); err != nil {
			// The browser gave up while the password checks were busy.
			u.renderMessage(w, r, http.StatusServiceUnavailable, "Try again",
				"The sign-in service is busy. Please try again in a moment.")
			return
		}
		sub, err = u.auth.Authenticate(r.Context(), username, password)
		u.verify.leave()
	}
	if err == nil && sub == "" {
		err = errors.New("authenticator returned no subject")
	}
	var oe *oauth.Error
	if errors.As(err, &oe) && oe.Code == oauth.ErrCodeTemporarilyUnavailable {
		// The directory is down or too slow (plugin/ldap): not the user's
		// mistake, so not "incorrect password".
		u.log.WarnContext(r.Context(), "sign-in: directory unavailable", "err", err)
		w.Header().Set("Retry-After", "30")
		u.renderMessage(w, r, http.StatusServiceUnavailable, "Try again",
			"The sign-in service is unavailable. Please try again in a moment.")
		return
	}
	if err != nil {
		// Never log the password; the error says why for the operator.
		// The username is hashed: a user who typed the password into
		// the username field must not find it in the logs.
		u.log.InfoContext(r.Context(), "audit", "event", "login_failed", "username_sha256", usernameHash(username),
			"client_address", u.clientAddr(r), "err", err)
		u.renderAuth(w, r, http.StatusUnauthorized, st, binding, username,
			"The username or password is incorrect.")
		return
	}
	u.throttle.succeed(key)
	if st.Msg.RequiredSub != "" && sub != st.Msg.RequiredSub {
		u.renderAuth(w, r, http.StatusUnauthorized, st, binding, username,
			"The application asked for a different account. Sign in as that account.")
		return
	}
	msg, err := u.api.submit(r.Context(), st.Msg.SID, subjectAuth{Sub: sub, AMR: []string{"pwd"}})
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	u.next(w, r, msg, st, binding, true)
}

// handleConsent submits the user's decision: allow → PUT the consent
// (docs/api.md §3, step 3); deny → DELETE, which answers with access_denied
// (docs/api.md §5).
func (u *UI) handleConsent(w http.ResponseWriter, r *http.Request) {
	st, binding, ok := u.formState(w, r, typeConsent)
	if !ok {
		return
	}
	var (
		msg *message
		err error
	)
	switch r.PostForm.Get("action") {
	case "allow":
		msg, err = u.api.submit(r.Context(), st.Msg.SID, consentFor(&st.Msg, r.PostForm.Get("remember") != ""))
	case "deny":
		msg, err = u.api.cancel(r.Context(), st.Msg.SID)
	default:
		u.renderMessage(w, r, http.StatusBadRequest, "Invalid request", "Choose Allow or Deny.")
		return
	}
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	u.next(w, r, msg, st, binding, true)
}

// handleCancel abandons the sign-in from any prompt (DELETE → access_denied).
func (u *UI) handleCancel(w http.ResponseWriter, r *http.Request) {
	st, binding, ok := u.formState(w, r, "")
	if !ok {
		return
	}
	msg, err := u.api.cancel(r.Context(), st.Msg.SID)
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	u.next(w, r, msg, st, binding, true)
}

// consentFor grants everything the prompt lists, new and already consented
// (docs/api.md §3, step 3); a refresh token only with offline_access
// (OIDC Core §11).
func consentFor(m *message, remember bool) consent {
	c := consent{Scope: []string{}, Claims: []string{}, LongLived: remember}
	if m.Scope != nil {
		c.Scope = appendNew(c.Scope, m.Scope.Consented...)
		c.Scope = appendNew(c.Scope, m.Scope.New...)
	}
	if m.Claims != nil {
		c.Claims = appendNew(c.Claims, m.Claims.Consented.Essential...)
		c.Claims = appendNew(c.Claims, m.Claims.Consented.Voluntary...)
		c.Claims = appendNew(c.Claims, m.Claims.New.Essential...)
		c.Claims = appendNew(c.Claims, m.Claims.New.Voluntary...)
	}
	if slices.Contains(c.Scope, oauth.ScopeOfflineAccess) {
		c.RefreshToken = &refreshToken{Issue: true}
	}
	return c
}

func appendNew(dst []string, vals ...string) []string {
	for _, v := range vals {
		if v != "" && !slices.Contains(dst, v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// formState parses a prompt form and checks, in order: body size, the
// browser binding cookie, the sealed state, the hidden sid and the CSRF
// token. On failure it has already answered.
func (u *UI) formState(w http.ResponseWriter, r *http.Request, wantType string) (*pageState, string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.renderMessage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return nil, "", false
	}
	binding := u.binding(w, r, false)
	st, err := u.keys.open(r.PostForm.Get("p"), binding, u.now())
	if err != nil || (wantType != "" && st.Msg.Type != wantType) ||
		r.PostForm.Get("sid") != st.Msg.SID ||
		!u.keys.checkCSRF(st.Msg.SID, binding, r.PostForm.Get("csrf")) {
		u.log.WarnContext(r.Context(), "form rejected: bad state or csrf token", "path", r.URL.Path)
		u.renderMessage(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or was not sent from this browser. Return to the application and sign in again. Cookies must be enabled.")
		return nil, "", false
	}
	return st, binding, true
}

// next acts on the API's answer (docs/api.md §4). After a POST the
// answer is a 303 to a GET page (or to the client), so a refresh never
// re-submits the form; form_post responses are the exception, as the page
// itself must POST to the client.
func (u *UI) next(w http.ResponseWriter, r *http.Request, msg *message, prev *pageState, binding string, afterPost bool) {
	switch msg.Type {
	case typeAuth, typeConsent:
		if msg.SID == "" {
			u.apiFailure(w, r, errUpstream)
			return
		}
		if msg.SubSession != nil {
			u.setSubjectCookie(w, msg.SubSession.SID)
		}
		st := &pageState{Msg: *msg, Targets: prev.Targets, Exp: u.now().Add(stateLifetime).Unix()}
		if !afterPost {
			if msg.Type == typeAuth {
				u.renderAuth(w, r, http.StatusOK, st, binding, msg.LoginHint, "")
			} else {
				u.renderConsent(w, r, st, binding)
			}
			return
		}
		p, err := u.keys.seal(st, binding)
		if err != nil {
			u.apiFailure(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Location", u.base+"/prompt?"+url.Values{"p": {p}}.Encode())
		w.WriteHeader(http.StatusSeeOther)
	case typeResponse:
		u.respond(w, r, msg, afterPost)
	case typeError:
		u.renderError(w, r, msg)
	default:
		u.apiFailure(w, r, errUpstream)
	}
}

// respond delivers the final authorisation response to the client
// (docs/api.md §4): a redirect for the query and fragment modes, an
// auto-submitted form for form_post (OAuth 2.0 Form Post Response Mode §2).
func (u *UI) respond(w http.ResponseWriter, r *http.Request, msg *message, afterPost bool) {
	if msg.Parameters == nil || !safeRedirect(msg.Parameters.URI) {
		u.log.ErrorContext(r.Context(), "final response without a usable redirect uri")
		u.apiFailure(w, r, errUpstream)
		return
	}
	u.setSubjectCookie(w, msg.SubSID)
	if msg.Parameters.Form != nil || strings.HasPrefix(msg.Mode, oauth.ResponseModeFormPost) {
		u.renderFormPost(w, r, msg.Parameters)
		return
	}
	status := http.StatusFound
	if afterPost {
		status = http.StatusSeeOther
	}
	securityHeaders(w.Header(), policy{})
	w.Header().Set("Location", msg.Parameters.URI)
	w.WriteHeader(status)
}

// unavailableRetryAfter is the Retry-After of the page shown while a
// backend is down, the same as the API's 503s.
const unavailableRetryAfter = "5"

// unavailable shows a 503 page with Retry-After when the API could not
// reach its store: an outage, not a fault of this request, so a warning
// rather than an error in the log.
func (u *UI) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	u.log.WarnContext(r.Context(), what, "err", err)
	w.Header().Set("Retry-After", unavailableRetryAfter)
	u.renderMessage(w, r, http.StatusServiceUnavailable, "Try again",
		"The sign-in service is temporarily unavailable. Please try again in a moment.")
}

// apiFailure maps API client errors to pages that reveal no internals.
func (u *UI) apiFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errSessionGone):
		u.renderMessage(w, r, http.StatusNotFound, "Sign-in expired",
			"Your sign-in session expired. Return to the application and sign in again.")
	case errors.Is(err, errRejected):
		u.log.WarnContext(r.Context(), "authorisation session API rejected request", "err", err)
		u.renderMessage(w, r, http.StatusBadRequest, "Sign-in cannot continue",
			"This sign-in request can no longer be continued. Return to the application and try again.")
	case errors.Is(err, errUnavailable):
		u.unavailable(w, r, "authorisation session API unavailable", err)
	default:
		u.log.ErrorContext(r.Context(), "authorisation session API failure", "err", err)
		u.renderMessage(w, r, http.StatusBadGateway, "Something went wrong",
			"The sign-in service is temporarily unavailable. Please try again in a moment.")
	}
}

func (u *UI) stateFailure(w http.ResponseWriter, r *http.Request) {
	u.renderMessage(w, r, http.StatusBadRequest, "Sign-in expired",
		"This page has expired or was opened in another browser. Return to the application and sign in again.")
}
