// Package demorp is the demo relying party that `keyward serve --demo`
// mounts at /demo: a page with a sign-in button that runs a real
// authorisation-code flow with PKCE against the server, through the same
// endpoints any client uses, and shows the verified ID token claims and the
// UserInfo response. It exists so that a newcomer sees a complete login in
// a browser without writing a client first.
package demorp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures the demo relying party.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// HTTPClient reaches the server's endpoints (in-process in serve --demo).
	HTTPClient *http.Client
	Log        *slog.Logger
}

// RP is the demo relying party's HTTP handler.
type RP struct {
	cfg Config
}

// New returns the demo relying party.
func New(cfg Config) *RP { return &RP{cfg: cfg} }

const cookieName = "keyward_demo_rp"

func (rp *RP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/demo", "/demo/":
		render(w, http.StatusOK, page{Title: "Keyward demo client", Issuer: rp.cfg.Issuer})
	case "/demo/start":
		rp.start(w, r)
	case "/demo/callback":
		rp.callback(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (rp *RP) oauth2Config(ctx context.Context) (*oauth2.Config, *oidc.Provider, error) {
	provider, err := oidc.NewProvider(rp.clientCtx(ctx), rp.cfg.Issuer)
	if err != nil {
		return nil, nil, err
	}
	return &oauth2.Config{
		ClientID:     rp.cfg.ClientID,
		ClientSecret: rp.cfg.ClientSecret,
		Endpoint:     provider.Endpoint(),
		RedirectURL:  strings.TrimSuffix(rp.cfg.Issuer, "/") + "/demo/callback",
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email", "offline_access"},
	}, provider, nil
}

func (rp *RP) clientCtx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, rp.cfg.HTTPClient)
}

func (rp *RP) start(w http.ResponseWriter, r *http.Request) {
	conf, _, err := rp.oauth2Config(r.Context())
	if err != nil {
		rp.fail(w, "cannot read the provider's discovery document", err)
		return
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: state + "." + nonce + "." + verifier, Path: "/demo",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(rp.cfg.Issuer, "https://"), MaxAge: 900,
	})
	url := conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, url, http.StatusFound)
}

func (rp *RP) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c, err := r.Cookie(cookieName)
	parts := []string{}
	if err == nil {
		parts = strings.Split(c.Value, ".")
	}
	if len(parts) != 3 || q.Get("state") != parts[0] {
		render(w, http.StatusBadRequest, page{Title: "State mismatch", Error: "the response does not belong to a sign-in started here; start again"})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Path: "/demo", MaxAge: -1})
	if e := q.Get("error"); e != "" {
		render(w, http.StatusOK, page{Title: "The provider answered with an error", Error: e + ": " + q.Get("error_description")})
		return
	}
	if q.Get("iss") != rp.cfg.Issuer {
		render(w, http.StatusBadRequest, page{Title: "Wrong issuer", Error: "the iss parameter (RFC 9207) does not name our provider"})
		return
	}
	ctx := rp.clientCtx(r.Context())
	conf, provider, err := rp.oauth2Config(r.Context())
	if err != nil {
		rp.fail(w, "cannot read the provider's discovery document", err)
		return
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		rp.fail(w, "the code exchange failed", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: rp.cfg.ClientID}).Verify(ctx, rawID)
	if err != nil || idToken.Nonce != parts[1] {
		rp.fail(w, "the ID token did not verify", err)
		return
	}
	var idClaims map[string]any
	idToken.Claims(&idClaims)
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var userInfo map[string]any
	if err == nil {
		info.Claims(&userInfo)
	}
	render(w, http.StatusOK, page{
		Title:    "Signed in as " + idToken.Subject,
		IDToken:  pretty(idClaims),
		UserInfo: pretty(userInfo),
		Refresh:  tok.RefreshToken != "",
	})
}

func (rp *RP) fail(w http.ResponseWriter, what string, err error) {
	if rp.cfg.Log != nil && err != nil {
		rp.cfg.Log.Warn("demo client", "problem", what, "error", err.Error())
	}
	render(w, http.StatusBadGateway, page{Title: "Sign-in failed", Error: what})
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

type page struct {
	Title, Issuer, Error, IDToken, UserInfo string
	Refresh                                 bool
}

var tmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:46rem;margin:3rem auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem 2.5rem}
h1{font-size:1.4rem;margin-top:0}a.button{display:inline-block;background:#2b59c3;color:#fff;padding:.7rem 1.3rem;border-radius:8px;text-decoration:none;font-weight:600}
pre{background:#f0f2f5;padding:1rem;border-radius:8px;overflow:auto;font-size:.85rem}.error{color:#b00020}
</style></head><body><main>
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error">{{.Error}}</p><p><a class="button" href="/demo/start">Try again</a></p>
{{else if .IDToken}}
<p>The authorisation-code flow with PKCE completed. The ID token was verified against the provider's published keys.</p>
<h2>ID token claims</h2><pre>{{.IDToken}}</pre>
<h2>UserInfo</h2><pre>{{.UserInfo}}</pre>
<p>{{if .Refresh}}A refresh token was issued too.{{end}}</p>
<p><a class="button" href="/demo/start">Sign in again</a></p>
{{else}}
<p>This page is a relying party registered as the demo client of the Keyward provider at <code>{{.Issuer}}</code>.
Sign in as <b>alice</b> / <b>alice-password</b> or <b>bob</b> / <b>bob-password</b>.</p>
<p><a class="button" href="/demo/start">Sign in with Keyward</a></p>
{{end}}
</main></body></html>`))

func render(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	tmpl.Execute(w, p)
}
