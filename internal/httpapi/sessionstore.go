package httpapi

import (
	"net/http"

	"github.com/keyward/keyward/oauth"
)

// sessionStorePrefix is the subject session store API (docs/api.md §15).
const sessionStorePrefix = "/session-store/rest/v2"

// sessionStoreRoutes adds the subject session store API to the
// integration routes.
func (a *API) sessionStoreRoutes(mux *http.ServeMux) {
	if a.SessionStore == nil {
		return
	}
	guard := func(h http.HandlerFunc) http.Handler {
		return a.requireTokenNamed(a.SessionStoreTokens, "a valid session store API token is required", h)
	}
	mux.Handle("GET "+sessionStorePrefix+"/sessions", guard(a.serveGetSessions))
	mux.Handle("PUT "+sessionStorePrefix+"/sessions", guard(a.serveUpdateSession))
	mux.Handle("DELETE "+sessionStorePrefix+"/sessions", guard(a.serveDeleteSessions))
	mux.Handle("PUT "+sessionStorePrefix+"/sessions/subject-auth-life", guard(a.serveSubjectAuthLife))
	mux.Handle("POST "+sessionStorePrefix+"/purge", guard(a.servePurgeSessions))
}

// requireTokenNamed is requireToken with an error description naming the
// API; a missing and a wrong token get the same answer.
func (a *API) requireTokenNamed(set TokenSet, desc string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := bearerToken(r)
		if !set.Allows(token) {
			a.writeError(w, r, oauth.InvalidToken(desc))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sidHeader returns the SID request header (Connect2id sends the session
// ID in a header, never in the URL, so that it stays out of access logs).
func sidHeader(r *http.Request) (string, bool) {
	v := r.Header.Values("SID")
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// serveGetSessions: GET /sessions with the SID header (one session), or
// ?subject=… (the subject's sessions).
func (a *API) serveGetSessions(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, err := query(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if sid, ok := sidHeader(r); ok {
		v, err := a.SessionStore.Get(r.Context(), sid, q)
		a.respond(w, r, http.StatusOK, v, err)
		return
	}
	list, err := a.SessionStore.List(r.Context(), q)
	a.respond(w, r, http.StatusOK, list, err)
}

// serveUpdateSession: PUT /sessions with the SID header and a session
// object.
func (a *API) serveUpdateSession(w http.ResponseWriter, r *http.Request) {
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
	sid, _ := sidHeader(r)
	v, err := a.SessionStore.Update(r.Context(), sid, q, body)
	a.respond(w, r, http.StatusOK, v, err)
}

// serveDeleteSessions: DELETE /sessions with the SID header (one session)
// or ?subject=… (all of the subject's); 200 with what ended, 204 with
// ?quiet=true.
func (a *API) serveDeleteSessions(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, err := query(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var (
		out   any
		quiet bool
	)
	if sid, ok := sidHeader(r); ok {
		out, quiet, err = a.SessionStore.Delete(r.Context(), sid, q)
	} else {
		out, quiet, err = a.SessionStore.DeleteSubject(r.Context(), q)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if quiet {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// serveSubjectAuthLife: PUT /sessions/subject-auth-life with the SID
// header; 204.
func (a *API) serveSubjectAuthLife(w http.ResponseWriter, r *http.Request) {
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
	sid, _ := sidHeader(r)
	if err := a.SessionStore.SetAuthLife(r.Context(), sid, q, body); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// servePurgeSessions: POST /purge (form).
func (a *API) servePurgeSessions(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q, form, err := authzStoreForm(w, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	res, err := a.SessionStore.Purge(r.Context(), q, form)
	a.respond(w, r, http.StatusOK, res, err)
}
