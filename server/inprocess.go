package server

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/keyward/keyward/internal/httpapi"
)

// inProcessTransport carries the reference login UI's requests to the
// integration API handler inside the process: the same HTTP requests and
// JSON a remote UI sends, without a socket.
type inProcessTransport struct {
	handler atomic.Pointer[http.Handler]
}

func (t *inProcessTransport) set(h http.Handler) { t.handler.Store(&h) }

func (t *inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h := t.handler.Load()
	if h == nil {
		return nil, http.ErrServerClosed
	}
	// A server-side request always has a body and a RequestURI; handlers
	// rely on both.
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = httpapi.InProcessRemoteAddr
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	(*h).ServeHTTP(rec, in)
	return &http.Response{
		Status:        http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(&rec.body),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

type recorder struct {
	header      http.Header
	body        bytes.Buffer
	status      int
	wroteHeader bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
