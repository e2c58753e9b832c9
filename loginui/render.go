package loginui

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/keyward/keyward/oauth"
)

//go:embed templates/*.html static/*
var assets embed.FS

var pageNames = []string{"auth", "consent", "formpost", "message", "logout_confirm", "logout_end"}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// policy describes what one page may do beyond 'self'.
type policy struct {
	formTargets []string // extra form-action sources; nil = 'self' only
	noFormCheck bool     // omit form-action: the redirect target is unknown
	imgSources  []string // extra img-src sources (client logo)
	nonce       string   // script nonce (form_post and the logout redirect)
	// frameSources are the origins of the front-channel logout iframes;
	// nil: no frames.
	frameSources []string
}

func (p policy) String() string {
	var b strings.Builder
	b.WriteString("default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")
	if !p.noFormCheck {
		b.WriteString("; form-action 'self'")
		for _, t := range p.formTargets {
			b.WriteString(" " + t)
		}
	}
	if len(p.imgSources) > 0 {
		b.WriteString("; img-src 'self'")
		for _, s := range p.imgSources {
			b.WriteString(" " + s)
		}
	}
	if p.nonce != "" {
		b.WriteString("; script-src 'nonce-" + p.nonce + "'")
	}
	if len(p.frameSources) > 0 {
		b.WriteString("; frame-src")
		for _, s := range p.frameSources {
			b.WriteString(" " + s)
		}
	}
	return b.String()
}

// securityHeaders are set on every page: the pages handle credentials, so
// they must not be framed, cached, sniffed or leak their URL in a Referer.
func securityHeaders(h http.Header, p policy) {
	h.Set("Content-Security-Policy", p.String())
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
}

// pageData feeds every template; each page uses its own subset.
type pageData struct {
	Title    string
	Heading  string
	BasePath string

	// prompt forms
	SID   string
	CSRF  string
	State string

	// auth
	Username      string
	RequiredSub   string
	CreateAccount bool
	Error         string

	// consent
	Client          *clientView
	Sub             string
	NewScopes       []scopeItem
	ConsentedScopes []scopeItem
	NewClaims       []claimItem
	ConsentedClaims []claimItem
	Purpose         string
	// Details are the requested authorization_details, one indented JSON
	// object each; Resources the requested resource indicators.
	Details   []string
	Resources []string

	// form_post
	Nonce  string
	Action string
	Fields []formField

	// logout pages: the confirmation form's target, the front-channel
	// logout iframes
	LogoutAction string
	Frames       []string

	// message and error pages
	Message   string
	ErrorCode string
	ErrorURI  string
}

type clientView struct {
	Name      string
	ClientID  string
	URI       string
	LogoURI   string
	PolicyURI string
	TosURI    string
}

type scopeItem struct{ Value, Description string }

type claimItem struct {
	Name, Label, Purpose string
	Essential            bool
}

// beyondScopes drops the claims a listed scope already describes (OIDC Core
// §5.4), so the consent page names each thing once; a claim that is
// essential or carries a purpose stays, because that is news to the user.
func beyondScopes(items []claimItem, scopes []string) []claimItem {
	implied := oauth.ClaimsForScope(oauth.Scope(scopes))
	var out []claimItem
	for _, it := range items {
		if it.Essential || it.Purpose != "" || !slices.Contains(implied, it.Name) {
			out = append(out, it)
		}
	}
	return out
}

type formField struct{ Name, Value string }

func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, d *pageData, p policy) {
	d.Title = u.title
	d.BasePath = u.base
	var buf bytes.Buffer
	if err := u.pages[page].ExecuteTemplate(&buf, "layout", d); err != nil {
		u.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		securityHeaders(w.Header(), policy{})
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header(), p)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (u *UI) renderMessage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	u.render(w, r, status, "message", &pageData{Heading: heading, Message: msg}, policy{})
}

// renderError shows a non-redirectable OAuth error (docs/api.md §4).
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, m *message) {
	d := &pageData{
		Heading:   "Sign-in request rejected",
		ErrorCode: cmp.Or(m.Error, "invalid_request"),
		Message:   m.ErrorDescription,
		ErrorURI:  httpURL(m.ErrorURI),
	}
	u.render(w, r, http.StatusBadRequest, "message", d, policy{})
}

func (u *UI) promptData(st *pageState, binding string) (*pageData, policy, error) {
	p, err := u.keys.seal(st, binding)
	if err != nil {
		return nil, policy{}, err
	}
	d := &pageData{
		SID:    st.Msg.SID,
		CSRF:   u.keys.csrfToken(st.Msg.SID, binding),
		State:  p,
		Client: newClientView(st.Msg.Client),
	}
	pol := policy{formTargets: st.Targets, noFormCheck: len(st.Targets) == 0}
	if d.Client != nil && d.Client.LogoURI != "" {
		if o := originOf(d.Client.LogoURI); o != "" {
			pol.imgSources = []string{o}
		}
	}
	return d, pol, nil
}

// renderAuth shows the login form for an auth prompt (docs/api.md §4).
func (u *UI) renderAuth(w http.ResponseWriter, r *http.Request, status int, st *pageState, binding, username, errMsg string) {
	d, pol, err := u.promptData(st, binding)
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	d.Heading = "Sign in"
	d.Username = username
	d.RequiredSub = st.Msg.RequiredSub
	d.CreateAccount = st.Msg.CreateAccount
	d.Error = errMsg
	u.render(w, r, status, "auth", d, pol)
}

// renderConsent shows a consent prompt (docs/api.md §3, step 3): what is new
// first, what the user already agreed to after.
func (u *UI) renderConsent(w http.ResponseWriter, r *http.Request, st *pageState, binding string) {
	d, pol, err := u.promptData(st, binding)
	if err != nil {
		u.apiFailure(w, r, err)
		return
	}
	m := &st.Msg
	d.Heading = "Allow access?"
	if m.SubSession != nil {
		d.Sub = m.SubSession.Sub
	}
	d.Purpose = m.Purpose
	d.Resources = m.Resource
	for _, ad := range m.AuthorizationDetails {
		var b bytes.Buffer
		if json.Indent(&b, ad, "", "  ") == nil {
			d.Details = append(d.Details, b.String())
		}
	}
	if m.Scope != nil {
		d.NewScopes = scopeItems(m.Scope.New)
		d.ConsentedScopes = scopeItems(m.Scope.Consented)
	}
	if m.Claims != nil {
		d.NewClaims = claimItems(m.Claims.New, m.Claims.Purposes)
		d.ConsentedClaims = claimItems(m.Claims.Consented, m.Claims.Purposes)
		if m.Scope != nil {
			d.NewClaims = beyondScopes(d.NewClaims, m.Scope.New)
		}
	}
	u.render(w, r, http.StatusOK, "consent", d, pol)
}

// renderFormPost answers with the auto-submitting form of the Form Post
// Response Mode (§2, §5): the only script on any page, allowed by nonce.
func (u *UI) renderFormPost(w http.ResponseWriter, r *http.Request, p *respParameters) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go ≥1.24)
	d := &pageData{
		Heading: "Returning to the application",
		Nonce:   base64.RawURLEncoding.EncodeToString(nonce), // CSP base64-value admits - and _; html/template would entity-escape +
		Action:  p.URI,
	}
	names := make([]string, 0, len(p.Form))
	for k := range p.Form {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d.Fields = append(d.Fields, formField{Name: k, Value: p.Form[k]})
	}
	pol := policy{nonce: d.Nonce}
	if o := originOf(p.URI); o != "" {
		pol.formTargets = []string{o}
	}
	u.render(w, r, http.StatusOK, "formpost", d, pol)
}

func newClientView(c *clientInfo) *clientView {
	if c == nil {
		return nil
	}
	return &clientView{
		Name:      cmp.Or(c.Name, c.ClientID),
		ClientID:  c.ClientID,
		URI:       httpURL(c.URI),
		LogoURI:   httpURL(c.LogoURI),
		PolicyURI: httpURL(c.PolicyURI),
		TosURI:    httpURL(c.TosURI),
	}
}

// scopeDescriptions explain the OpenID scope values (OIDC Core §5.4, §11).
var scopeDescriptions = map[string]string{
	"openid":         "Sign you in and know who you are (your account identifier)",
	"profile":        "Your basic profile: name, nickname, picture, birthdate, locale",
	"email":          "Your email address and whether it is verified",
	"address":        "Your postal address",
	"phone":          "Your phone number and whether it is verified",
	"offline_access": "Keep access while you are not using the application",
}

// claimLabels name the standard claims (OIDC Core §5.1).
var claimLabels = map[string]string{
	"name": "Full name", "given_name": "Given name", "family_name": "Family name",
	"middle_name": "Middle name", "nickname": "Nickname", "preferred_username": "Username",
	"profile": "Profile page", "picture": "Picture", "website": "Website", "gender": "Gender",
	"birthdate": "Birthdate", "zoneinfo": "Time zone", "locale": "Locale", "updated_at": "Last profile update",
	"email": "Email address", "email_verified": "Email verified", "address": "Postal address",
	"phone_number": "Phone number", "phone_number_verified": "Phone number verified",
}

func scopeItems(vals []string) []scopeItem {
	var out []scopeItem
	for _, v := range vals {
		d, ok := scopeDescriptions[v]
		if !ok {
			d = "Access to " + v
		}
		out = append(out, scopeItem{Value: v, Description: d})
	}
	return out
}

func claimItems(ev essVol, purposes map[string]string) []claimItem {
	var out []claimItem
	add := func(names []string, essential bool) {
		for _, n := range names {
			if slices.ContainsFunc(out, func(c claimItem) bool { return c.Name == n }) {
				continue
			}
			label := claimLabels[strings.TrimPrefix(n, "verified:")]
			if label == "" {
				label = n
			}
			out = append(out, claimItem{Name: n, Label: label, Purpose: purposes[n], Essential: essential})
		}
	}
	add(ev.Essential, true)
	add(ev.Voluntary, false)
	return out
}

// httpURL returns s when it is an absolute http(s) URL, else "": client
// metadata links are shown only when they cannot smuggle a script scheme.
func httpURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return s
}

var (
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.\-]*$`)
)

// originOf returns a CSP source expression for the origin of raw:
// "scheme://host[:port]" for http(s), "scheme:" for the private-use schemes
// of native apps (RFC 8252 §7.1), "" when raw is unusable. The strict
// character checks keep client-supplied text from injecting directives.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "http", "https":
		if !hostRE.MatchString(u.Host) {
			return ""
		}
		return scheme + "://" + u.Host
	case "javascript", "data", "vbscript", "blob", "file", "filesystem":
		return ""
	}
	if !schemeRE.MatchString(scheme) {
		return ""
	}
	return scheme + ":"
}

// redirectTargets extracts the client's redirect origin from the raw
// authorisation request, for the prompt pages' form-action. Browsers apply
// form-action to the redirects that follow a form submission, and the final
// 303 goes to the client. The value is unverified here, but the server only
// ever redirects to a registered URI equal to it, and it only widens where
// this UI's own forms may lead.
func redirectTargets(query string) []string {
	q, err := url.ParseQuery(query)
	if err != nil && q == nil {
		return nil
	}
	ru := q.Get("redirect_uri")
	if ru == "" {
		return nil
	}
	if o := originOf(ru); o != "" {
		return []string{o}
	}
	return nil
}

// safeRedirect accepts the final response URI from the API unless it could
// run script in our origin.
func safeRedirect(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme != "" && originOf(raw) != ""
}
