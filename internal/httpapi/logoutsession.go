package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward/internal/core/logout"
	"github.com/keyward/keyward/oauth"
)

// logoutPrefix is the logout session API (docs/api.md §16).
const logoutPrefix = "/logout-sessions/rest/v1"

// logoutRoutes adds the logout session API to the integration routes.
func (a *API) logoutRoutes(mux *http.ServeMux) {
	if a.Logout == nil {
		return
	}
	guard := func(h http.HandlerFunc) http.Handler {
		return a.requireTokenNamed(a.LogoutTokens, "a valid logout session API token is required", h)
	}
	mux.Handle("POST "+logoutPrefix, guard(a.serveStartLogout))
	mux.Handle("POST "+logoutPrefix+"/{$}", guard(a.serveStartLogout))
	mux.Handle("PUT "+logoutPrefix+"/{sid}", guard(a.serveSubmitLogout))
}

// serveStartLogout: POST /logout-sessions/rest/v1 {query, sub_sid}.
func (a *API) serveStartLogout(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req logout.StartRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		a.writeError(w, r, oauth.InvalidRequest("the body must be a JSON object with query and sub_sid members only"))
		return
	}
	msg, err := a.Logout.Start(r.Context(), req)
	a.respond(w, r, http.StatusOK, msg, err)
}

// serveSubmitLogout: PUT /logout-sessions/rest/v1/{sid} {op_logout}.
func (a *API) serveSubmitLogout(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	d, err := logout.DecodeDecision(body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	msg, err := a.Logout.Submit(r.Context(), r.PathValue("sid"), d)
	a.respond(w, r, http.StatusOK, msg, err)
}
