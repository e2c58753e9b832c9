package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward/internal/core/authz"
	"github.com/keyward/keyward/oauth"
)

var errNotJSON = oauth.InvalidRequest("the Content-Type must be application/json")

// serveStartAuthz: POST /authz-sessions/rest/v3 {query, sub_sid}
// (docs/api.md §3).
func (a *API) serveStartAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req authz.StartRequest
	if err := json.Unmarshal(body, &req); err != nil {
		a.writeError(w, r, oauth.InvalidRequest("the body must be a JSON object with a query member"))
		return
	}
	msg, err := a.Authz.Start(r.Context(), req)
	a.respond(w, r, http.StatusOK, msg, err)
}

// serveSubmitAuthz: PUT /authz-sessions/rest/v3/{sid} with a subject
// authentication or a consent (docs/api.md §3, steps 2 and 3).
func (a *API) serveSubmitAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	sa, consent, err := authz.DecodeSubmission(body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var msg *authz.Message
	if sa != nil {
		msg, err = a.Authz.SubmitAuth(r.Context(), r.PathValue("sid"), sa)
	} else {
		msg, err = a.Authz.SubmitConsent(r.Context(), r.PathValue("sid"), consent)
	}
	a.respond(w, r, http.StatusOK, msg, err)
}

// serveGetAuthz: GET /authz-sessions/rest/v3/{sid} (docs/api.md §3).
func (a *API) serveGetAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	obj, err := a.Authz.Get(r.Context(), r.PathValue("sid"))
	a.respond(w, r, http.StatusOK, obj, err)
}

// serveCancelAuthz: DELETE /authz-sessions/rest/v3/{sid}[?error=…]
// (docs/api.md §5).
func (a *API) serveCancelAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q := r.URL.Query()
	msg, err := a.Authz.Cancel(r.Context(), r.PathValue("sid"), q.Get("error"), q.Get("error_description"), q.Get("error_uri"))
	a.respond(w, r, http.StatusOK, msg, err)
}
