package loginui

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Wire types of the logout session API (docs/api.md §16); only what this
// page reads or writes.
type logoutMessage struct {
	Type string `json:"type"`
	SID  string `json:"sid,omitempty"`

	SubSession *subSession `json:"sub_session,omitempty"`
	Client     *clientInfo `json:"client,omitempty"`
	UILocales  []string    `json:"ui_locales,omitempty"`
	Closed     *bool       `json:"sub_session_closed,omitempty"`
	Front      []string    `json:"frontchannel_logout_uris,omitempty"`
	Redirect   string      `json:"post_logout_redirect_uri,omitempty"`
	Error      string      `json:"error,omitempty"`
	ErrorDesc  string      `json:"error_description,omitempty"`
}

type logoutDecision struct {
	OPLogout bool `json:"op_logout"`
}

// logoutStart opens a logout session: POST {logout base} {query, sub_sid}.
func (c *apiClient) logoutStart(ctx context.Context, base, query, subSID string) (*logoutMessage, error) {
	var m logoutMessage
	err := c.call(ctx, http.MethodPost, base, startRequest{Query: query, SubSID: subSID}, &m)
	return &m, err
}

// logoutSubmit sends the user's decision: PUT {logout base}/{sid}.
func (c *apiClient) logoutSubmit(ctx context.Context, base, sid string, opLogout bool) (*logoutMessage, error) {
	var m logoutMessage
	err := c.call(ctx, http.MethodPut, base+"/"+url.PathEscape(sid), logoutDecision{OPLogout: opLogout}, &m)
	return &m, err
}

// handleLogout is the end-session endpoint (OpenID Connect RP-Initiated
// Logout 1.0 §2, GET or POST): it hands the raw request and the session
// cookie to the logout session API and follows the answer. It changes
// nothing by itself: a logout the relying party asks for is confirmed by
// the user first (§6: the OP must protect against logout CSRF).
func (u *UI) handleLogout(w http.ResponseWriter, r *http.Request) {
	query := r.URL.RawQuery
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			u.renderMessage(w, r, http.StatusBadRequest, "Invalid request",
				"The sign-out request could not be read. Return to the application.")
			return
		}
		query = r.PostForm.Encode()
	}
	if query == "" {
		// A bare visit is no request of a provider's own page (an empty
		// query would end the session unasked, docs/api.md §16): any site
		// can send a browser here, so it is confirmed like a relying
		// party's. The parameter means nothing and is ignored.
		query = "source=logout_page"
	}
	var subSID string
	if c, err := r.Cookie(u.cookie); err == nil {
		subSID = c.Value
	}
	binding := u.bindingAt(w, r, true, u.logoutPath)
	msg, err := u.api.logoutStart(r.Context(), u.logoutAPI, query, subSID)
	if err != nil {
		u.logoutFailure(w, r, err)
		return
	}
	u.logoutNext(w, r, msg, binding)
}

// handleLogoutConfirm receives the confirmation form: CSRF-checked
// (same-origin POST, and a token bound to the logout session and this
// browser), then PUT to the API.
func (u *UI) handleLogoutConfirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.renderMessage(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	sid := r.PostForm.Get("sid")
	binding := u.bindingAt(w, r, false, u.logoutPath)
	if len(sid) > maxStateLen || !u.keys.checkCSRF("logout\x00"+sid, binding, r.PostForm.Get("csrf")) {
		u.renderMessage(w, r, http.StatusForbidden, "Sign-out expired",
			"This page has expired or was opened in another browser. Return to the application and try again.")
		return
	}
	msg, err := u.api.logoutSubmit(r.Context(), u.logoutAPI, sid, r.PostForm.Get("action") == "logout")
	if err != nil {
		u.logoutFailure(w, r, err)
		return
	}
	u.logoutNext(w, r, msg, binding)
}

func (u *UI) logoutNext(w http.ResponseWriter, r *http.Request, m *logoutMessage, binding string) {
	switch m.Type {
	case "confirm":
		u.renderLogoutConfirm(w, r, m, binding)
	case "end":
		u.renderLogoutEnd(w, r, m)
	case "error":
		d := &pageData{Heading: "Sign-out request rejected", ErrorCode: cmp.Or(m.Error, "invalid_request"), Message: m.ErrorDesc}
		u.render(w, r, http.StatusBadRequest, "message", d, policy{})
	default:
		u.logoutFailure(w, r, errUpstream)
	}
}

func (u *UI) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, m *logoutMessage, binding string) {
	d := &pageData{
		Heading: "Sign out?", SID: m.SID, CSRF: u.keys.csrfToken("logout\x00"+m.SID, binding),
		Client: newClientView(m.Client), LogoutAction: u.logoutPath + "/confirm",
	}
	if m.SubSession != nil {
		d.Sub = m.SubSession.Sub
	}
	pol := policy{noFormCheck: true} // the answer redirects to the client
	if d.Client != nil && d.Client.LogoURI != "" {
		if o := originOf(d.Client.LogoURI); o != "" {
			pol.imgSources = []string{o}
		}
	}
	u.render(w, r, http.StatusOK, "logout_confirm", d, pol)
}

// renderLogoutEnd loads the front-channel logout URIs in hidden iframes
// (Front-Channel Logout 1.0 §2) and then, if there is one, goes to the
// post-logout redirect: by script once the frames have loaded (bounded
// wait), or by the link without script.
func (u *UI) renderLogoutEnd(w http.ResponseWriter, r *http.Request, m *logoutMessage) {
	if m.Closed != nil && *m.Closed {
		http.SetCookie(w, &http.Cookie{Name: u.cookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteLaxMode})
	}
	d := &pageData{Heading: "You are signed out"}
	if m.Closed == nil || !*m.Closed {
		d.Heading = "Signed out of the application"
	}
	pol := policy{}
	for _, f := range m.Front {
		if o := originOf(f); strings.HasPrefix(o, "https://") || strings.HasPrefix(o, "http://") {
			d.Frames = append(d.Frames, f)
			pol.frameSources = append(pol.frameSources, o)
		}
	}
	if m.Redirect != "" && safeRedirect(m.Redirect) {
		d.Action = m.Redirect
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		d.Nonce = base64.RawURLEncoding.EncodeToString(nonce)
		pol.nonce = d.Nonce
	}
	u.render(w, r, http.StatusOK, "logout_end", d, pol)
}

func (u *UI) logoutFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errSessionGone):
		u.renderMessage(w, r, http.StatusNotFound, "Sign-out expired",
			"This sign-out request has expired or was already used. Return to the application and try again.")
	case errors.Is(err, errRejected):
		u.log.WarnContext(r.Context(), "logout session API rejected request", "err", err)
		u.renderMessage(w, r, http.StatusBadRequest, "Sign-out cannot continue",
			"This sign-out request cannot be completed. Return to the application.")
	case errors.Is(err, errUnavailable):
		u.unavailable(w, r, "logout session API unavailable", err)
	default:
		u.log.ErrorContext(r.Context(), "logout session API failure", "err", err)
		u.renderMessage(w, r, http.StatusBadGateway, "Something went wrong",
			"The sign-out service is temporarily unavailable. Please try again in a moment.")
	}
}
