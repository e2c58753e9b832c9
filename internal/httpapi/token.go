package httpapi

import (
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/core/dpop"
	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/internal/mtls"
	"github.com/keyward/keyward/oauth"
)

// serveToken: POST /token (RFC 6749 §3.2).
func (a *API) serveToken(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	creds, err := a.credentials(w, r)
	noteGrant(r, r.PostForm.Get("grant_type"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	creds.DPoP = r.Header.Values(dpop.Header)
	creds.URL = a.endpointURL(r, "token_endpoint", a.Metadata.TokenEndpoint)
	resp, err := a.Tokens.Token(r.Context(), creds)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r.Context(), "token_issued", "client_id", claimedClientID(creds), "grant_type", creds.Form.Get("grant_type"))
	a.freshDPoPNonce(w)
	writeJSON(w, http.StatusOK, resp)
}

// servePAR: POST /par (RFC 9126 §2).
func (a *API) servePAR(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	creds, err := a.credentials(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	client, err := a.Tokens.AuthenticateClient(r.Context(), creds)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	creds.DPoP = r.Header.Values(dpop.Header)
	creds.URL = a.endpointURL(r, "pushed_authorization_request_endpoint", a.Metadata.PushedAuthorizationRequestEndpoint)
	if err := a.Tokens.PushedDPoP(r.Context(), creds); err != nil {
		a.writeError(w, r, err)
		return
	}
	requestURI, expiresIn, err := a.Authz.Push(r.Context(), client, creds.Form)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.freshDPoPNonce(w)
	writeJSON(w, http.StatusCreated, map[string]any{"request_uri": requestURI, "expires_in": expiresIn})
}

// credentials extracts the form and any HTTP Basic client credentials; the
// core judges them.
func (a *API) credentials(w http.ResponseWriter, r *http.Request) (token.Credentials, error) {
	if err := parseForm(w, r); err != nil {
		return token.Credentials{}, err
	}
	c := token.Credentials{Form: r.PostForm}
	cert, err := a.ClientCerts.Certificate(r)
	if err != nil {
		return token.Credentials{}, oauth.InvalidRequest("malformed client certificate").WithCause(err)
	}
	if cert != nil {
		c.ClientCert, c.CertThumbprint = cert, mtls.Thumbprint(cert)
	}
	if user, pass, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return token.Credentials{}, oauth.InvalidClient("malformed basic credentials")
		}
		c.BasicID, c.BasicSecret, c.HasBasic = id, secret, true
	} else if _, isBearer := bearerToken(r); r.Header.Get("Authorization") != "" && !isBearer {
		return token.Credentials{}, oauth.InvalidClient("unsupported authorization scheme")
	}
	setClientID(r.Context(), claimedClientID(c))
	return c, nil
}

// claimedClientID is the client a token-endpoint request names, before
// authentication judges it: for the access log and audit lines.
func claimedClientID(c token.Credentials) string {
	if c.HasBasic {
		return c.BasicID
	}
	return c.Form.Get("client_id")
}

// serveUserInfo: GET or POST /userinfo (OIDC Core §5.3) with the access
// token in the Authorization header or, for POST, the form body
// (RFC 6750 §2.2) — never both.
func (a *API) serveUserInfo(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	tok, inHeader := bearerToken(r)
	scheme := oauth.TokenTypeBearer
	if dtok, ok := dpopToken(r); ok {
		tok, inHeader, scheme = dtok, true, dpop.Scheme
	}
	if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "" {
		if err := parseForm(w, r); err != nil {
			a.writeError(w, r, err)
			return
		}
		if formTok := r.PostForm.Get("access_token"); formTok != "" {
			if inHeader {
				a.writeError(w, r, oauth.InvalidRequest("the access token must be sent in one place only"))
				return
			}
			tok = formTok
		}
	}
	if tok == "" {
		a.writeError(w, r, oauth.InvalidToken("missing access token"))
		return
	}
	p := token.Presentation{Token: tok, Scheme: scheme, DPoP: r.Header.Values(dpop.Header), Method: r.Method,
		URL: a.endpointURL(r, "userinfo_endpoint", a.Metadata.UserInfoEndpoint)}
	cert, err := a.ClientCerts.Certificate(r)
	if err != nil {
		a.writeError(w, r, oauth.InvalidRequest("malformed client certificate").WithCause(err))
		return
	}
	if cert != nil {
		p.CertThumbprint = mtls.Thumbprint(cert)
	}
	claims, err := a.Tokens.UserInfoPresented(r.Context(), p)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, claims)
}
