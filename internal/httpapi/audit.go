package httpapi

import (
	"context"
	"log/slog"
	"net/http"
)

// reqInfoKey carries a *reqInfo: what the handlers learn about a request
// that its access-log line reports.
const reqInfoKey ctxKey = 100

type reqInfo struct {
	clientID string
	// route is the pattern the mux chose (recordRoute): the outer
	// middleware holds other copies of the request, whose Pattern the
	// mux never sets.
	route string
}

// recordRoute notes the route pattern of a request for the access log; it
// wraps the mux directly, where r.Pattern is set.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if info, ok := r.Context().Value(reqInfoKey).(*reqInfo); ok {
				info.route = r.Pattern
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// setClientID records the client a request is from (as it names itself; a
// failed authentication is in the status), for the access-log line.
// Client IDs are public (RFC 6749 §2.2), unlike the secrets next to them.
func setClientID(ctx context.Context, id string) {
	if info, ok := ctx.Value(reqInfoKey).(*reqInfo); ok && id != "" {
		info.clientID = id
	}
}

// audit logs one security event (docs/operator-guide.md, "Logs"): a line
// with msg "audit", the event name and who it concerns. Never a secret:
// subjects and client IDs are identifiers, not credentials.
func (a *API) audit(ctx context.Context, event string, attrs ...any) {
	a.log.InfoContext(ctx, "audit", append([]any{"event", event}, attrs...)...)
}

// RequestIDHandler wraps h so that every record logged with a request's
// context — by any package, the core and the login UI included — carries
// that request's request_id, which is also in its X-Request-Id response
// header and its access-log line.
func RequestIDHandler(h slog.Handler) slog.Handler {
	if _, done := h.(requestIDHandler); done {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
