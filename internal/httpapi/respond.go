package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/jsoncheck"
	"github.com/keyward/keyward/oauth"
	"github.com/keyward/keyward/store"
)

// maxBodyBytes caps request bodies: 50 000 for protocol endpoints and
// 250 000 for registration, whose metadata may carry a JWK set; the same
// limits as Connect2id's.
const (
	maxBodyBytes             = 50_000
	maxRegistrationBodyBytes = 250_000
)

type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
	ErrorURI         string `json:"error_uri,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// respond answers v with status, or err as an OAuth error.
func (a *API) respond(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// readJSON reads a JSON request body of at most limit bytes; a wrong media
// type is answered with wrongType.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, wrongType *oauth.Error) ([]byte, error) {
	if requireContentType(r, "application/json") != nil {
		return nil, wrongType
	}
	body, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	// Duplicate members, deep nesting and huge member counts are refused
	// before any decoding (docs/api.md §23); malformed JSON is left to the
	// handler, which reports it in its API's words.
	var bad *jsoncheck.Error
	if err := jsoncheck.Check(body, jsoncheck.Limits{}); errors.As(err, &bad) {
		return nil, oauth.InvalidRequest("invalid JSON body: " + bad.Error())
	}
	return body, nil
}

// writeError answers err as an OAuth 2.0 error response. Sentinels are
// only looked for outside *oauth.Error: a server_error from the core may
// wrap store.ErrNotFound as its cause, and must still be a 500.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	oe := oauth.AsError(err)
	if oe != nil {
		noteError(r, oe.Code)
	}
	switch {
	case oe != nil && oe.Code != oauth.ErrCodeServerError:
		if oe.Status == http.StatusUnauthorized || oe.Code == oauth.ErrCodeInsufficientScope {
			w.Header().Set("WWW-Authenticate", authenticateHeader(r, oe, a.Metadata.DPoPSigningAlgValuesSupported))
		}
		if oe.DPoPNonce != "" {
			w.Header().Set("DPoP-Nonce", oe.DPoPNonce)
		}
		if cause := errors.Unwrap(oe); cause != nil {
			a.log.DebugContext(r.Context(), "request refused", "error", oe.Code, "cause", cause.Error())
		}
		writeJSON(w, statusOf(oe), errorBody{oe.Code, oe.Description, oe.URI})
	case oe == nil && errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found", ErrorDescription: "no such resource"})
	case oe == nil && errors.Is(err, errBodyTooLarge):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{oauth.ErrCodeInvalidRequest, "request body too large", ""})
	case store.IsUnavailable(err):
		a.writeUnavailable(w, r, err)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away (closed the connection, gave up waiting
		// during an outage) and took the backend call with it: not a
		// fault of the node. The answer is never read.
		noteError(r, oauth.ErrCodeTemporarilyUnavailable)
		a.log.InfoContext(r.Context(), "request abandoned by the client", "method", r.Method, "route", r.Pattern)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: oauth.ErrCodeTemporarilyUnavailable})
	default:
		a.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern,
			"error", err.Error())
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: oauth.ErrCodeServerError, ErrorDescription: "internal error"})
	}
}

// retryAfterSeconds is the Retry-After of a 503 for an unreachable
// backend: long enough for a restarted Redis or a failed-over database,
// short enough that clients do not give up.
const retryAfterSeconds = "5"

// writeUnavailable answers a request that needed a store or Redis that
// could not be reached or did not answer in time (store.IsUnavailable):
// 503 temporarily_unavailable with Retry-After, the code RFC 6749 §4.1.2.1
// defines for a server that cannot handle the request now, never a 500.
// The outage is the operator's to see, once per request, as a warning.
func (a *API) writeUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	noteError(r, oauth.ErrCodeTemporarilyUnavailable)
	if oe := oauth.AsError(err); oe != nil && errors.Unwrap(oe) != nil {
		err = errors.Unwrap(oe) // the core's server_error says nothing; its cause does
	}
	a.log.WarnContext(r.Context(), "backend unavailable", "method", r.Method, "route", r.Pattern,
		"error", err.Error())
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: oauth.ErrCodeTemporarilyUnavailable,
		ErrorDescription: "the service is temporarily unavailable; retry later"})
}

func statusOf(e *oauth.Error) int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// authenticateHeader builds WWW-Authenticate for 401s: Basic for client
// authentication at the token endpoint (RFC 6749 §5.2), Bearer elsewhere
// (RFC 6750 §3).
func authenticateHeader(r *http.Request, e *oauth.Error, dpopAlgs []string) string {
	if e.Code == oauth.ErrCodeInvalidClient {
		return `Basic realm="keyward"`
	}
	h := `Bearer realm="keyward"`
	if e.Scheme != "" {
		// RFC 9449 §7.1: the DPoP challenge, with the algorithms proofs
		// may use.
		h = e.Scheme + ` realm="keyward"`
		if e.Scheme == "DPoP" && len(dpopAlgs) > 0 {
			h += ` algs="` + strings.Join(dpopAlgs, " ") + `"`
		}
	}
	if e.Code != "" && (r.Header.Get("Authorization") != "" || e.Scheme != "") {
		h += fmt.Sprintf(`, error=%q`, e.Code)
		if e.Description != "" {
			h += fmt.Sprintf(`, error_description=%q`, e.Description)
		}
	}
	return h
}

var errBodyTooLarge = errors.New("request body too large")

// readBody reads at most limit bytes of the request body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bodyLimit(r, limit)))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errBodyTooLarge
		}
		return nil, oauth.InvalidRequest("cannot read the request body")
	}
	return body, nil
}

// requireContentType checks the media type of a request with a body.
func requireContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, want) {
		return oauth.InvalidRequest("the Content-Type must be " + want)
	}
	return nil
}

// parseForm parses an application/x-www-form-urlencoded body with the body
// limit. Duplicate parameters are the core's to judge.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	if err := requireContentType(r, "application/x-www-form-urlencoded"); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r, maxBodyBytes))
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge
		}
		return oauth.InvalidRequest("malformed form body")
	}
	// Counted before parsing, so that a flood of parameters is named as
	// such (docs/api.md §23) rather than as a parse failure.
	if strings.Count(string(body), "&") >= oauth.MaxParams || strings.Count(r.URL.RawQuery, "&") >= oauth.MaxParams {
		return oauth.InvalidRequest(fmt.Sprintf("too many parameters: at most %d", oauth.MaxParams))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errBodyTooLarge
		}
		return oauth.InvalidRequest("malformed form body")
	}
	return nil
}

// noStore marks a response as uncacheable (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// bearerToken extracts the RFC 6750 §2.1 bearer token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
