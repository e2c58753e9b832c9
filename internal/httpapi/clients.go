package httpapi

import (
	"net/http"
	"strconv"

	"github.com/keyward/keyward/internal/core/clientreg"
	"github.com/keyward/keyward/oauth"
)

var errMetadataNotJSON = oauth.InvalidClientMetadata("the Content-Type must be application/json")

// serveRegister: POST /clients (RFC 7591 §3) with the master token or, when
// open registration is on, without one.
func (a *API) serveRegister(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	tok, hasTok := bearerToken(r)
	if hasTok && !a.RegistrationTokens.Allows(tok) || !hasTok && !a.OpenRegistration {
		a.writeError(w, r, oauth.InvalidToken("a valid registration token is required"))
		return
	}
	body, err := readJSON(w, r, maxRegistrationBodyBytes, errMetadataNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	req, oerr := clientreg.DecodeRequest(body)
	if oerr != nil {
		a.writeError(w, r, oerr)
		return
	}
	req.Operator = hasTok
	reg, err := a.Clients.Register(r.Context(), req)
	if err == nil {
		setClientID(r.Context(), reg.ClientID)
		a.audit(r.Context(), "client_registered", "client_id", reg.ClientID, "by_operator", hasTok)
	}
	a.respond(w, r, http.StatusCreated, reg, err)
}

// serveListClients: GET /clients?after=ID&limit=N with the master token.
func (a *API) serveListClients(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	if tok, ok := bearerToken(r); !ok || !a.RegistrationTokens.Allows(tok) {
		a.writeError(w, r, oauth.InvalidToken("the master registration token is required"))
		return
	}
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			a.writeError(w, r, oauth.InvalidRequest("limit must be 1 to 1000"))
			return
		}
		limit = n
	}
	list, err := a.Clients.List(r.Context(), r.URL.Query().Get("after"), limit)
	a.respond(w, r, http.StatusOK, list, err)
}

// serveReadClient: GET /clients/{client_id} (RFC 7592 §2.1) with the
// client's registration access token or the master token.
func (a *API) serveReadClient(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id, acc, ok := a.clientAccess(w, r)
	if !ok {
		return
	}
	reg, err := a.Clients.Read(r.Context(), id, acc)
	a.respond(w, r, http.StatusOK, reg, err)
}

// serveUpdateClient: PUT /clients/{client_id} (RFC 7592 §2.2).
func (a *API) serveUpdateClient(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id, acc, ok := a.clientAccess(w, r)
	if !ok {
		return
	}
	body, err := readJSON(w, r, maxRegistrationBodyBytes, errMetadataNotJSON)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	req, oerr := clientreg.DecodeRequest(body)
	if oerr != nil {
		// The token is judged before the body, as for every other error.
		if err := a.Clients.CheckAccess(r.Context(), id, acc); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeError(w, r, oerr)
		return
	}
	reg, err := a.Clients.Update(r.Context(), id, acc, req)
	if err == nil {
		a.audit(r.Context(), "client_updated", "client_id", id)
	}
	a.respond(w, r, http.StatusOK, reg, err)
}

// serveDeleteClient: DELETE /clients/{client_id} (RFC 7592 §2.3).
func (a *API) serveDeleteClient(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id, acc, ok := a.clientAccess(w, r)
	if !ok {
		return
	}
	if err := a.Clients.Delete(r.Context(), id, acc); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.audit(r.Context(), "client_deleted", "client_id", id)
	w.WriteHeader(http.StatusNoContent)
}

// clientAccess reads the bearer token of a client configuration request:
// the master token (operator access) or the client's registration access
// token.
func (a *API) clientAccess(w http.ResponseWriter, r *http.Request) (string, clientreg.Access, bool) {
	setClientID(r.Context(), r.PathValue("client_id"))
	tok, ok := bearerToken(r)
	if !ok {
		a.writeError(w, r, oauth.InvalidToken("a registration access token is required"))
		return "", clientreg.Access{}, false
	}
	if a.RegistrationTokens.Allows(tok) {
		return r.PathValue("client_id"), clientreg.AsOperator(), true
	}
	return r.PathValue("client_id"), clientreg.WithRegistrationToken(tok), true
}
