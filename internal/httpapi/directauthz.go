package httpapi

import (
	"net/http"

	"github.com/keyward/keyward/internal/core/authz"
)

// serveDirectAuthz: POST /direct-authz/rest/v2 (docs/api.md §11).
func (a *API) serveDirectAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	req, err := authz.DecodeDirect(body)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	resp, err := a.Authz.Direct(r.Context(), req)
	a.respond(w, r, http.StatusOK, resp, err)
}
