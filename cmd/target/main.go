// Command target is DiLO's demo and e2e HTTP server: the thing a LoadTest loads.
//
//	GET /slow?ms=N         200 after N milliseconds (at most 60000)
//	GET /slow?ms=N&after=S the same, but only S seconds after the target first served
//	                       a /slow with after=, at once before: a target that turns slow
//	GET /status/NNN        responds with status NNN (100 to 599)
//	GET /healthz           200 "ok"
//	GET /requests          the requests served so far, by Host header, as JSON
//	GET /record            what the requests served so far carried, as JSON (below)
//	GET /record/clients    when the first request from each client IP arrived (at most 1024
//	                       IPs), as JSON: a load test's start skew, seen from the server
//	POST /record/reset     forgets what /record and /record/clients have seen (not what
//	                       /requests counts)
//	any other path         200 with a small body, whatever the method
//
// But for the /record routes, which answer other methods 405, the routes answer any
// method; HEAD answers without the body. /requests and the /record routes leave out the
// requests to /healthz, /requests and the /record routes.
//
// /record groups the requests by "METHOD URI", the request URI as sent, query included:
//
//	{"requests": {"POST /orders?x=1": {
//	    "count": 3,
//	    "protocols": {"HTTP/2.0": 3},
//	    "headers": {"Content-Type": {"values": {"application/json": 3}, "overflow": 0}},
//	    "headersOverflow": 0,
//	    "bodies": {"values": {"<hex SHA-256>": {"count": 3, "length": 11}}, "overflow": 0, "tooLong": 0}}},
//	 "overflow": 0}
//
// Headers every client sends (Host, User-Agent, Accept, Content-Length, Accept-Encoding)
// are left out, and a request without a body adds no body. So that a load test of millions
// of requests keeps it small, the record keeps at most 64 "METHOD URI", 64 header names
// per "METHOD URI", and 16 distinct values per header and bodies per "METHOD URI"; what
// does not fit is counted in the overflow next to it. A body is read up to 1 MiB: a longer
// one is counted in tooLong, not hashed.
//
// It serves plain HTTP/1.1 on -addr (default :8080; empty for none). With -tls-cert and
// -tls-key, PEM files read once at start, it also serves HTTPS on -tls-addr (default
// :8443), offering HTTP/2 and HTTP/1.1 by ALPN, or HTTP/1.1 alone with -no-h2. Both share
// one handler and one record. It stops on SIGTERM, finishing open requests.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const maxSlow = 60 * time.Second

// options are the target's flags.
type options struct {
	addr    string
	tlsAddr string
	tlsCert string
	tlsKey  string
	noH2    bool
}

// main serves the target's routes until SIGTERM or interrupt.
func main() {
	o, err := parseOptions(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srvs, err := newServers(o, newHandler())
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, srvs); err != nil {
		log.Fatal(err)
	}
}

// parseOptions parses the target's flags from args and checks that they go together.
func parseOptions(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", ":8080", "plain HTTP listen address; empty for none")
	fs.StringVar(&o.tlsAddr, "tls-addr", ":8443", "HTTPS listen address, with -tls-cert and -tls-key")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate (chain) file to serve HTTPS with")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file of -tls-cert")
	fs.BoolVar(&o.noH2, "no-h2", false, "serve HTTPS with HTTP/1.1 only, not HTTP/2")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return o, errors.New("-tls-cert and -tls-key go together")
	case o.tlsCert == "" && o.noH2:
		return o, errors.New("-no-h2 needs -tls-cert and -tls-key: plain HTTP is HTTP/1.1 only anyway")
	case o.tlsCert == "" && o.addr == "":
		return o, errors.New("nothing to serve: -addr is empty and there is no -tls-cert")
	case o.tlsCert != "" && o.tlsAddr == "":
		return o, errors.New("-tls-cert needs a -tls-addr")
	case o.tlsCert != "" && o.tlsAddr == o.addr:
		return o, fmt.Errorf("-addr and -tls-addr are both %s", o.addr)
	}
	return o, nil
}

// newServers returns the servers o asks for, all with handler h: plain HTTP on o.addr, and
// HTTPS on o.tlsAddr when o has a certificate, which it reads now.
func newServers(o options, h http.Handler) ([]*http.Server, error) {
	var srvs []*http.Server
	if o.addr != "" {
		srvs = append(srvs, &http.Server{Addr: o.addr, Handler: h, ReadHeaderTimeout: 10 * time.Second})
	}
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("failed to load the TLS certificate: %w", err)
		}
		// Protocols says outright which protocols ALPN offers, rather than relying on
		// net/http's default, which a non-nil TLSNextProto would silently turn off.
		protocols := new(http.Protocols)
		protocols.SetHTTP1(true)
		protocols.SetHTTP2(!o.noH2)
		srvs = append(srvs, &http.Server{
			Addr:              o.tlsAddr,
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Protocols:         protocols,
		})
	}
	return srvs, nil
}

// serve runs srvs (HTTPS those with a TLSConfig) until ctx is done or one of them fails,
// then shuts them all down, giving open requests 10 seconds. It returns the failure.
func serve(ctx context.Context, srvs []*http.Server) error {
	errs := make(chan error, len(srvs))
	for _, srv := range srvs {
		go func() {
			if srv.TLSConfig != nil {
				log.Printf("Serving HTTPS (HTTP/2: %t) on %s", srv.Protocols.HTTP2(), srv.Addr)
				errs <- srv.ListenAndServeTLS("", "")
			} else {
				log.Printf("Serving HTTP on %s", srv.Addr)
				errs <- srv.ListenAndServe()
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range srvs {
		wg.Go(func() { _ = srv.Shutdown(shutdown) })
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// notAllowed returns a handler answering 405 Method Not Allowed, allowing allow.
func notAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	}
}

// newHandler returns the target's routes, recording the requests served but those that
// read or reset the record (tests ask it who was sent what).
func newHandler() http.Handler {
	body := []byte("hello from dilo target\n")
	rec := newRecorder()
	writeJSON := func(w http.ResponseWriter, b []byte, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(b, '\n'))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/requests", func(w http.ResponseWriter, _ *http.Request) {
		b, err := rec.hosts()
		writeJSON(w, b, err)
	})
	// The record's routes answer other methods 405, rather than fall through to "/" and
	// let a test that sent the wrong method believe it reset the record.
	mux.HandleFunc("/record", notAllowed("GET, HEAD"))
	mux.HandleFunc("/record/reset", notAllowed("POST"))
	mux.HandleFunc("/record/clients", notAllowed("GET, HEAD"))
	mux.HandleFunc("GET /record", func(w http.ResponseWriter, _ *http.Request) {
		b, err := rec.json()
		writeJSON(w, b, err)
	})
	mux.HandleFunc("GET /record/clients", func(w http.ResponseWriter, _ *http.Request) {
		b, err := rec.clients()
		writeJSON(w, b, err)
	})
	mux.HandleFunc("POST /record/reset", func(w http.ResponseWriter, _ *http.Request) {
		rec.reset()
		w.WriteHeader(http.StatusNoContent)
	})
	var turnsSlow sync.Once
	var slowFrom time.Time // set once, by turnsSlow
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ms, err := strconv.Atoi(q.Get("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "ms must be a whole number of milliseconds", http.StatusBadRequest)
			return
		}
		d := min(time.Duration(ms)*time.Millisecond, maxSlow)
		if q.Has("after") {
			after, err := strconv.Atoi(q.Get("after"))
			if err != nil || after < 0 {
				http.Error(w, "after must be a whole number of seconds", http.StatusBadRequest)
				return
			}
			turnsSlow.Do(func() { slowFrom = time.Now() })
			if time.Since(slowFrom) < time.Duration(after)*time.Second {
				d = 0
			}
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		w.Write(body)
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if err != nil || code < 100 || code > 599 {
			http.Error(w, "status must be from 100 to 599", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code)
	})
	// No method in the pattern: a mix of requests may send any method to any path.
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(body)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/requests", "/record", "/record/reset", "/record/clients":
		default:
			rec.add(r, time.Now())
		}
		mux.ServeHTTP(w, r)
	})
}
