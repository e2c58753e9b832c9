package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/oauth"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the request's ID, set by the request-ID middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives each request an ID, echoed in X-Request-Id. An
// incoming ID is not trusted: it could be used to confuse log correlation.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 8)
		rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog logs one line per request and turns panics into a logged
// 500 so that one bad request cannot take the node down. It logs the route
// pattern, not the path: paths carry session IDs
// (/authz-sessions/rest/v3/{sid}), and the query string may carry codes or
// tokens. The request ID comes from the context (RequestIDHandler).
func withAccessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, info))
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(r.Context(), "panic serving request", "route", info.route, "panic", p)
				if !rec.wrote {
					writeJSON(rec, http.StatusInternalServerError, errorBody{Error: oauth.ErrCodeServerError})
				}
			}
			attrs := []any{"method", r.Method, "route", info.route, "status", rec.status,
				"duration_seconds", time.Since(start).Seconds()}
			if info.clientID != "" {
				attrs = append(attrs, "client_id", info.clientID)
			}
			if addr := clientaddr.From(r.Context()); addr.IsValid() {
				attrs = append(attrs, "client_addr", addr.String())
			}
			log.InfoContext(r.Context(), "http request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// withCORS allows cross-origin reads of the endpoints browsers' JavaScript
// clients call directly; credentials (cookies) are never involved there.
func withCORS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			// DPoP proofs come in the DPoP header; browser clients must be
			// able to read the server nonce (RFC 9449 §8).
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			w.Header().Set("Access-Control-Expose-Headers", "DPoP-Nonce, WWW-Authenticate")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TokenSet holds the SHA-256 digests of the bearer tokens an integration
// API accepts.
type TokenSet [][]byte

// NewTokenSet builds a set from plain tokens and hex SHA-256 digests.
func NewTokenSet(plain []string, hexDigests []string) (TokenSet, error) {
	var set TokenSet
	for _, p := range plain {
		if p != "" {
			set = append(set, secret.HashBytes(p))
		}
	}
	for _, h := range hexDigests {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, oauth.InvalidRequest("bad token digest")
		}
		set = append(set, b)
	}
	return set, nil
}

// Allows reports whether token is in the set, comparing digests in constant
// time and always checking every entry.
func (s TokenSet) Allows(token string) bool {
	if token == "" {
		return false
	}
	sum := secret.HashBytes(token)
	ok := false
	for _, d := range s {
		if secret.Equal(sum, d) {
			ok = true
		}
	}
	return ok
}

// requireToken guards an integration API with its bearer tokens. A
// missing and a wrong token get the same body, so that the answer tells a
// prober nothing beyond "not allowed".
func (a *API) requireToken(set TokenSet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, ok := bearerToken(r); !ok || !set.Allows(token) {
			a.audit(r.Context(), "api_auth_failed", "route", r.Pattern, "token_present", ok)
			a.writeError(w, r, oauth.InvalidToken("missing or invalid bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireMonitorToken guards the monitoring API. Besides the header it
// accepts the access_token query parameter, so that load balancers that
// cannot set headers can poll it (as Connect2id's,
// https://connect2id.com/products/server/docs/integration/monitoring), but
// only with a monitoring-only token: a token in a URL is written to proxy
// and load-balancer logs.
func (a *API) requireMonitorToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := a.MonitorTokens
		token, ok := bearerToken(r)
		if !ok {
			token, allowed = r.URL.Query().Get("access_token"), a.MonitorQueryTokens
		}
		if !allowed.Allows(token) {
			a.audit(r.Context(), "api_auth_failed", "route", r.Pattern, "token_present", token != "")
			a.writeError(w, r, oauth.InvalidToken("a valid monitoring token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
