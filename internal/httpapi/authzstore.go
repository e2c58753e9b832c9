package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/internal/core/authzstore"
	"github.com/keyward/keyward/oauth"
)

// authzStorePrefix is the authorisation store API (docs/api.md §13).
const authzStorePrefix = "/authz-store/rest/v3"

// authzStoreRoutes adds the authorisation store API to the integration
// routes.
func (a *API) authzStoreRoutes(mux *http.ServeMux) {
	if a.AuthzStore == nil {
		return
	}
	guard := func(h http.HandlerFunc) http.Handler { return a.requireAuthzStoreToken(h) }
	mux.Handle("GET "+authzStorePrefix+"/authorizations", guard(a.serveQueryAuthorizations))
	mux.Handle("POST "+authzStorePrefix+"/authorizations", guard(a.serveAddAuthorization))
	mux.Handle("PUT "+authzStorePrefix+"/authorizations", guard(a.serveUpdateAuthorization))
	mux.Handle("DELETE "+authzStorePrefix+"/authorizations", guard(a.serveDeleteAuthorization))
	mux.Handle("GET "+authzStorePrefix+"/subjects", guard(a.serveAuthzSubjects))
	mux.Handle("GET "+authzStorePrefix+"/clients", guard(a.serveAuthzClients))
	mux.Handle("POST "+authzStorePrefix+"/revocation", guard(a.serveAuthzRevocation))
	mux.Handle("POST "+authzStorePrefix+"/inspection", guard(a.serveAuthzInspection))
}

// requireAuthzStoreToken answers a missing and a wrong bearer token with
// the same 401 body, so that a caller learns nothing from the difference.
func (a *API) requireAuthzStoreToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := bearerToken(r)
		if !a.AuthzStoreTokens.Allows(token) {
			a.writeError(w, r, oauth.InvalidToken("a valid authorisation store API token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// query parses the URL query strictly: a malformed one is refused, not
// half read.
func query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, oauth.InvalidRequest("malformed query string")
	}
	return q, nil
}

// serveQueryAuthorizations: GET /authorizations?subject=…[&client_id=…]:
// one authorisation for both, a JSON array for one.
func (a *API) serveQueryAuthorizations(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, err := query(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	list, one, err := a.AuthzStore.Query(r.Context(), q)
	if err == nil && one {
		writeJSON(w, http.StatusOK, list[0])
		return
	}
	a.respond(w, r, http.StatusOK, list, err)
}

// serveAddAuthorization: POST /authorizations {authorisation}.
func (a *API) serveAddAuthorization(w http.ResponseWriter, r *http.Request) {
	a.serveStoreAuthorization(w, r, http.StatusCreated, a.AuthzStore.Add)
}

// serveUpdateAuthorization: PUT /authorizations {authorisation}.
func (a *API) serveUpdateAuthorization(w http.ResponseWriter, r *http.Request) {
	a.serveStoreAuthorization(w, r, http.StatusOK, a.AuthzStore.Update)
}

func (a *API) serveStoreAuthorization(w http.ResponseWriter, r *http.Request, status int,
	do func(context.Context, url.Values, []byte) (*authzstore.Authorization, error)) {
	noStore(w)
	q, err := query(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	got, err := do(r.Context(), q, body)
	a.respond(w, r, status, got, err)
}

// serveDeleteAuthorization: DELETE /authorizations?subject=…&client_id=….
func (a *API) serveDeleteAuthorization(w http.ResponseWriter, r *http.Request) {
	q, err := query(r)
	if err == nil {
		err = a.AuthzStore.Delete(r.Context(), q)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveAuthzSubjects: GET /subjects?after=…&limit=….
func (a *API) serveAuthzSubjects(w http.ResponseWriter, r *http.Request) {
	a.servePage(w, r, a.AuthzStore.Subjects)
}

// serveAuthzClients: GET /clients?after=…&limit=….
func (a *API) serveAuthzClients(w http.ResponseWriter, r *http.Request) {
	a.servePage(w, r, a.AuthzStore.ClientIDs)
}

// servePage answers a page as a JSON array of strings, with a Link header
// (RFC 8288) to the next page when there is one.
func (a *API) servePage(w http.ResponseWriter, r *http.Request, list func(context.Context, url.Values) (*authzstore.Page, error)) {
	noStore(w)
	q, err := query(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	page, err := list(r.Context(), q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if page.Next != "" {
		next := url.Values{"after": {page.Next}}
		if q.Has("limit") {
			next.Set("limit", q.Get("limit"))
		}
		w.Header().Set("Link", "<"+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, page.Items)
}

// authzStoreForm parses a form POST and returns its query and body
// parameters apart.
func authzStoreForm(w http.ResponseWriter, r *http.Request) (q, form url.Values, err error) {
	if q, err = query(r); err != nil {
		return nil, nil, err
	}
	if err := parseForm(w, r); err != nil {
		return nil, nil, err
	}
	return q, r.PostForm, nil
}

// serveAuthzRevocation: POST /revocation (form). 200 with the removed
// long-lived authorisations, 204 when there were none or with ?quiet=true.
func (a *API) serveAuthzRevocation(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, form, err := authzStoreForm(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	removed, quiet, err := a.AuthzStore.Revoke(r.Context(), q, form)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if quiet || len(removed) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, removed)
}

// serveAuthzInspection: POST /inspection (form) with one access_token or
// refresh_token.
func (a *API) serveAuthzInspection(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, form, err := authzStoreForm(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	got, err := a.AuthzStore.Inspect(r.Context(), q, form)
	a.respond(w, r, http.StatusOK, got, err)
}
