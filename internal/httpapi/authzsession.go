package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward/internal/core/authz"
	"github.com/keyward/keyward/oauth"
)

// errNotJSON answers an integration API request whose body is not JSON:
// 415 Unsupported Media Type (RFC 9110 §15.5.16), as Connect2id.
var errNotJSON = oauth.InvalidRequest("the Content-Type must be application/json").WithStatus(http.StatusUnsupportedMediaType)

// refuseIssuerHeaders answers 400 to requests that select an issuer alias
// or tenant (Connect2id's Issuer and Tenant-ID headers): Keyward serves one
// issuer, and answering for it would silently ignore the header.
func (a *API) refuseIssuerHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"Issuer", "Tenant-ID"} {
			if _, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				a.writeError(w, r, oauth.InvalidRequest("the "+h+" header is not supported: Keyward serves a single issuer"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

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
		if err == nil {
			// The login UI reports a successful authentication here; its
			// failures it reports by cancelling (serveCancelAuthz).
			a.audit(r.Context(), "login", "sub", sa.Sub, "acr", sa.ACR, "amr", sa.AMR)
		}
	} else {
		msg, err = a.Authz.SubmitConsent(r.Context(), r.PathValue("sid"), consent)
		if err == nil {
			a.audit(r.Context(), "consent", "scope", consent.Scope, "claims", consent.Claims)
		}
	}
	a.respond(w, r, http.StatusOK, msg, err)
}

// serveGetAuthz: GET /authz-sessions/rest/v3/{sid} (docs/api.md §3).
func (a *API) serveGetAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	obj, err := a.Authz.Get(r.Context(), r.PathValue("sid"))
	a.respond(w, r, http.StatusOK, obj, err)
}

// serveGetAuthzData: GET /authz-sessions/rest/v3/{sid}/data (docs/api.md
// §3, "The data resource").
func (a *API) serveGetAuthzData(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	data, err := a.Authz.Data(r.Context(), r.PathValue("sid"))
	a.respond(w, r, http.StatusOK, data, err)
}

// servePutAuthzData: PUT /authz-sessions/rest/v3/{sid}/data with a JSON
// object, answered with the stored object.
func (a *API) servePutAuthzData(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	body, err := readJSON(w, r, maxBodyBytes, errNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	data, err := a.Authz.PutData(r.Context(), r.PathValue("sid"), body)
	a.respond(w, r, http.StatusOK, data, err)
}

// serveCancelAuthz: DELETE /authz-sessions/rest/v3/{sid}[?error=…]
// (docs/api.md §5).
func (a *API) serveCancelAuthz(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	q := r.URL.Query()
	msg, err := a.Authz.Cancel(r.Context(), r.PathValue("sid"), q.Get("error"), q.Get("error_description"), q.Get("error_uri"))
	if err == nil {
		a.audit(r.Context(), "authz_denied", "error", q.Get("error"))
	}
	a.respond(w, r, http.StatusOK, msg, err)
}
