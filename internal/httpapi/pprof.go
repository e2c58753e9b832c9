package httpapi

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes adds Go's runtime profiles (monitor.pprof, docs/performance.md)
// to the integration routes, behind the monitoring token like the rest of
// /monitor: a CPU profile costs the node CPU and a heap profile shows what
// it holds, so neither may be open to the internet. The handlers are
// registered by hand on our mux, never through net/http/pprof's init on
// http.DefaultServeMux, which Keyward does not serve.
//
// A CPU profile or trace must be shorter than the server's write timeout
// (30 s): ?seconds=20, say.
func (a *API) pprofRoutes(mux *http.ServeMux) {
	guard := func(h http.HandlerFunc) http.Handler { return a.requireMonitorToken(h) }
	// Index also serves the named profiles: heap, goroutine, allocs,
	// block, mutex, threadcreate.
	mux.Handle("GET /debug/pprof/", guard(pprof.Index))
	mux.Handle("GET /debug/pprof/cmdline", guard(pprof.Cmdline))
	mux.Handle("GET /debug/pprof/profile", guard(pprof.Profile))
	mux.Handle("GET /debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("POST /debug/pprof/symbol", guard(pprof.Symbol))
	mux.Handle("GET /debug/pprof/trace", guard(pprof.Trace))
}
