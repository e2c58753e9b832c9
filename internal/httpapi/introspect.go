package httpapi

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/core/token"
	"github.com/keyward/keyward/oauth"
)

// mediaTypeIntrospectionJWT asks for, and labels, a JWT introspection
// response (RFC 9701 §4, §5).
const mediaTypeIntrospectionJWT = "application/token-introspection+jwt"

// tokenParams reads the one token and the optional token_type_hint of a
// revocation or introspection request (RFC 7009 §2.1, RFC 7662 §2.1).
func tokenParams(r *http.Request) (value, hint string, err error) {
	for _, p := range []string{"token", "token_type_hint"} {
		if len(r.PostForm[p]) > 1 {
			return "", "", oauth.InvalidRequest("repeated parameter " + p)
		}
	}
	value = r.PostForm.Get("token")
	if value == "" {
		return "", "", oauth.InvalidRequest("missing token")
	}
	return value, r.PostForm.Get("token_type_hint"), nil
}

// introspectionCaller authenticates the caller of the introspection
// endpoint: a bearer token from IntrospectionTokens, or else a client by
// any client-authentication method of the token endpoint.
func (a *API) introspectionCaller(w http.ResponseWriter, r *http.Request) (token.IntrospectionCaller, error) {
	if tok, ok := bearerToken(r); ok {
		if !a.IntrospectionTokens.Allows(tok) {
			return token.IntrospectionCaller{}, oauth.InvalidToken("invalid bearer token")
		}
		if err := parseForm(w, r); err != nil {
			return token.IntrospectionCaller{}, err
		}
		return token.IntrospectionCaller{}, nil
	}
	creds, err := a.credentials(w, r)
	if err != nil {
		return token.IntrospectionCaller{}, err
	}
	client, err := a.Tokens.AuthenticateClient(r.Context(), creds)
	if err != nil {
		return token.IntrospectionCaller{}, err
	}
	return token.IntrospectionCaller{Client: client}, nil
}

// serveIntrospect: POST /token/introspect (RFC 7662 §2), answering JSON,
// or a signed JWT (RFC 9701) when the Accept header asks for
// application/token-introspection+jwt.
func (a *API) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	caller, err := a.introspectionCaller(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	value, hint, err := tokenParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	members, err := a.Tokens.Introspect(r.Context(), caller, value, hint)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if wantsIntrospectionJWT(r) {
		a.writeIntrospectionJWT(r.Context(), w, r, caller, members)
		return
	}
	writeJSON(w, http.StatusOK, members)
}

func (a *API) writeIntrospectionJWT(ctx context.Context, w http.ResponseWriter, r *http.Request, caller token.IntrospectionCaller, members map[string]any) {
	jwt, err := a.Tokens.IntrospectionJWT(ctx, caller, members)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", mediaTypeIntrospectionJWT)
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(jwt))
}

// wantsIntrospectionJWT reports whether Accept names the JWT response
// type (with any parameters, any case).
func wantsIntrospectionJWT(r *http.Request) bool {
	for _, accept := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(accept, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == mediaTypeIntrospectionJWT {
				return true
			}
		}
	}
	return false
}

// serveRevoke: POST /token/revoke (RFC 7009 §2). The client authenticates
// as at the token endpoint; success is 200 with an empty body, also for an
// unknown token (§2.2).
func (a *API) serveRevoke(w http.ResponseWriter, r *http.Request) {
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
	value, hint, err := tokenParams(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.Tokens.RevokeToken(r.Context(), client, value, hint); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r.Context(), "token_revoked", "client_id", claimedClientID(creds), "token_type_hint", hint)
	w.WriteHeader(http.StatusOK)
}
