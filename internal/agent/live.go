package agent

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// liveEndpoint is the snapshot endpoint (runplan.Live): the load's results
// so far, for the manager, which reads every pod's every few seconds and
// merges them, and for Prometheus. Plain HTTP on every address of the pod,
// read-only, two resources and nothing else: no profiling, no control of
// any kind, since anyone who can reach the pod can reach it.
type liveEndpoint struct {
	load   atomic.Pointer[load] // nil until the load starts
	mu     sync.Mutex           // one snapshot at a time: each reads every worker's tally
	server *http.Server
	addr   net.Addr      // where it listens
	served chan struct{} // closed once the server has stopped
}

// The limits of the endpoint's server. Its clients ask for at most a full
// document (podreport.MaxFullLen), a few KB in practice, every few seconds,
// with a request of a few hundred bytes; a client slower or larger than
// that is not one of them, and must not hold a connection for long.
const (
	liveReadHeaderTimeout = 5 * time.Second
	liveReadTimeout       = 10 * time.Second
	liveWriteTimeout      = 10 * time.Second
	liveIdleTimeout       = time.Minute
	liveMaxHeaderBytes    = 4 << 10
	liveShutdownTimeout   = time.Second
)

// serveLive starts the snapshot endpoint on port, on every address (a
// dual-stack socket, IPv4 and IPv6, where the kernel has IPv6), answering
// 503 until the load is published. The server's own errors go to errorLog.
// A port it cannot listen on is an error naming it.
func serveLive(port int, errorLog io.Writer) (*liveEndpoint, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("failed to serve snapshots on port %d (live.port): %w", port, err)
	}
	e := &liveEndpoint{addr: ln.Addr(), served: make(chan struct{})}
	e.server = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: liveReadHeaderTimeout,
		ReadTimeout:       liveReadTimeout,
		WriteTimeout:      liveWriteTimeout,
		IdleTimeout:       liveIdleTimeout,
		MaxHeaderBytes:    liveMaxHeaderBytes,
		ErrorLog:          log.New(errorLog, "agent: snapshot endpoint: ", 0),
	}
	go func() {
		defer close(e.served)
		_ = e.server.Serve(ln) // returns when closed
	}()
	return e, nil
}

// publish makes the endpoint serve l's snapshots.
func (e *liveEndpoint) publish(l *load) { e.load.Store(l) }

// close stops the endpoint: the snapshots being written get a moment to
// end, then every connection is closed.
func (e *liveEndpoint) close() {
	ctx, cancel := context.WithTimeout(context.Background(), liveShutdownTimeout)
	defer cancel()
	if e.server.Shutdown(ctx) != nil {
		e.server.Close()
	}
	<-e.served
}

// ServeHTTP routes a request: GET or HEAD of /snapshot or /metrics; any
// other path is 404, any other method on them 405.
func (e *liveEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve http.HandlerFunc
	switch r.URL.Path {
	case "/snapshot":
		serve = e.serveSnapshot
	case "/metrics":
		serve = e.serveMetrics
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	serve(w, r)
}

// serveSnapshot answers with the full result document of the load so far
// (podreport's EncodeFull, "live":true), or 503 before the load starts.
func (e *liveEndpoint) serveSnapshot(w http.ResponseWriter, _ *http.Request) {
	p, started, err := e.snapshot()
	if !started {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	var doc []byte
	if err == nil {
		doc, err = p.report.EncodeFull()
	}
	if err != nil { // an inconsistent report: the agent's bug, not the client's
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	doc = append(doc, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(doc)
}

// snapshot is the load's progress now, started false before the load has
// started. Snapshots are taken one at a time, so that clients asking at
// once cost the load no more than one asking alone.
func (e *liveEndpoint) snapshot() (p progress, started bool, err error) {
	l := e.load.Load()
	if l == nil {
		return progress{}, false, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err = l.snapshot()
	return p, true, err
}
