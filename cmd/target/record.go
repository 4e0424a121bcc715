package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The bounds of a record. A load test sends millions of requests, and a header carrying a
// request id or a body carrying a timestamp would otherwise grow the record without end;
// past a bound, what does not fit is only counted.
const (
	// maxRequests is how many distinct "METHOD URI" a record keeps.
	maxRequests = 64
	// maxHeaders is how many header names a record keeps per request kind.
	maxHeaders = 64
	// maxValues is how many distinct values it keeps per header, and distinct bodies per
	// request kind.
	maxValues = 16
	// maxBody is the longest body that is hashed; a longer one is counted as tooLong.
	maxBody = 1 << 20
	// maxClients is how many client addresses a record keeps the first request of.
	maxClients = 1024
)

// unrecorded are the headers left out of a record: every client sends them, and the tests
// ask what a LoadTest added, not what Go's HTTP client did.
var unrecorded = map[string]bool{
	"Host": true, "User-Agent": true, "Accept": true, "Content-Length": true, "Accept-Encoding": true,
}

// record is what the target was sent, by "METHOD URI" (the request URI as sent, query
// included). Its fields are what GET /record answers.
type record struct {
	Requests map[string]*requestRecord `json:"requests"`
	// Overflow counts the requests whose "METHOD URI" found the record full.
	Overflow int64 `json:"overflow"`
	// firstByClient is when the first request from each client IP arrived (read when its
	// handler began, before its body), at most maxClients of them: a LoadTest's start
	// skew seen from the server, one pod per IP. GET /record/clients answers it.
	firstByClient map[string]time.Time
}

// requestRecord is what requests of one method and URI carried.
type requestRecord struct {
	Count int64 `json:"count"`
	// Protocols counts requests by r.Proto. net/http accepts only HTTP/1.0, HTTP/1.1 and
	// HTTP/2.0, so this needs no bound.
	Protocols map[string]int64 `json:"protocols"`
	// Headers counts, by canonical name, the values of each header; each header line is
	// one value, so a header sent twice in one request counts twice.
	Headers map[string]*valueCounts `json:"headers"`
	// HeadersOverflow counts the header lines whose name found Headers full.
	HeadersOverflow int64 `json:"headersOverflow"`
	// Bodies counts the non-empty bodies by SHA-256; a request without a body adds nothing.
	Bodies bodyCounts `json:"bodies"`
}

// valueCounts counts at most maxValues distinct values, and the rest in Overflow.
type valueCounts struct {
	Values   map[string]int64 `json:"values"`
	Overflow int64            `json:"overflow"`
}

// bodyCounts counts at most maxValues distinct bodies, by the hex SHA-256 of each.
type bodyCounts struct {
	Values map[string]*bodyCount `json:"values"`
	// Overflow counts the bodies that found Values full.
	Overflow int64 `json:"overflow"`
	// TooLong counts the bodies longer than maxBody, which are not hashed.
	TooLong int64 `json:"tooLong"`
}

// bodyCount is how often one body was sent, and its length in bytes.
type bodyCount struct {
	Count  int64 `json:"count"`
	Length int64 `json:"length"`
}

// recorder keeps a record, and the requests counted by Host header that GET /requests
// answers, behind one mutex taken once per request after its body is read.
type recorder struct {
	mu     sync.Mutex
	rec    record
	byHost map[string]int64
}

// newRecorder returns a recorder that has recorded nothing.
func newRecorder() *recorder {
	return &recorder{rec: newRecord(), byHost: map[string]int64{}}
}

func newRecord() record {
	return record{Requests: map[string]*requestRecord{}, firstByClient: map[string]time.Time{}}
}

// hasher hashes a body through a buffer of its own; a pool of them spares each request
// with a body a new hash and io.Copy's 32 KiB buffer.
type hasher struct {
	h   hash.Hash
	buf []byte
}

var hashers = sync.Pool{New: func() any { return &hasher{h: sha256.New(), buf: make([]byte, 32<<10)} }}

// digest reads at most maxBody+1 bytes of body and returns their length and hex SHA-256;
// tooLong is true when the body is longer than maxBody (and sum is then empty). A read error
// ends the body where it happened.
func digest(body io.Reader) (n int64, sum string, tooLong bool) {
	if body == nil || body == http.NoBody {
		return 0, "", false
	}
	hs := hashers.Get().(*hasher)
	defer hashers.Put(hs)
	hs.h.Reset()
	n, _ = io.CopyBuffer(hs.h, io.LimitReader(body, maxBody+1), hs.buf)
	if n == 0 || n > maxBody {
		return n, "", n > maxBody
	}
	var b [sha256.Size]byte
	return n, hex.EncodeToString(hs.h.Sum(b[:0])), false
}

// add records r, which arrived at at, reading (at most maxBody+1 bytes of) its body.
func (rc *recorder) add(r *http.Request, at time.Time) {
	n, sum, tooLong := digest(r.Body)
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	key := r.Method + " " + uri

	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.byHost[r.Host]++
	if _, ok := rc.rec.firstByClient[client]; !ok && len(rc.rec.firstByClient) < maxClients {
		rc.rec.firstByClient[client] = at
	}
	rr := rc.rec.Requests[key]
	if rr == nil {
		if len(rc.rec.Requests) >= maxRequests {
			rc.rec.Overflow++
			return
		}
		rr = &requestRecord{
			Protocols: map[string]int64{},
			Headers:   map[string]*valueCounts{},
			Bodies:    bodyCounts{Values: map[string]*bodyCount{}},
		}
		rc.rec.Requests[key] = rr
	}
	rr.Count++
	rr.Protocols[r.Proto]++
	for name, values := range r.Header {
		if unrecorded[name] {
			continue
		}
		vc := rr.Headers[name]
		if vc == nil {
			if len(rr.Headers) >= maxHeaders {
				rr.HeadersOverflow += int64(len(values))
				continue
			}
			vc = &valueCounts{Values: map[string]int64{}}
			rr.Headers[name] = vc
		}
		for _, v := range values {
			if _, ok := vc.Values[v]; ok || len(vc.Values) < maxValues {
				vc.Values[v]++
			} else {
				vc.Overflow++
			}
		}
	}
	switch b := &rr.Bodies; {
	case tooLong:
		b.TooLong++
	case n == 0:
	case b.Values[sum] != nil:
		b.Values[sum].Count++
	case len(b.Values) < maxValues:
		b.Values[sum] = &bodyCount{Count: 1, Length: n}
	default:
		b.Overflow++
	}
}

// hosts returns the requests recorded by Host header, as JSON. Unlike the record it is
// never reset, and not bounded: a test sends to few hosts.
func (rc *recorder) hosts() ([]byte, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return json.Marshal(rc.byHost)
}

// json returns the record as JSON. It marshals under the lock rather than copy the
// record: the record is small, and the load waits only as long as the marshalling.
func (rc *recorder) json() ([]byte, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return json.Marshal(&rc.rec)
}

// clients returns when the first request of each client IP arrived, as JSON.
func (rc *recorder) clients() ([]byte, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return json.Marshal(rc.rec.firstByClient)
}

// reset forgets the record (but not the requests by Host).
func (rc *recorder) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.rec = newRecord()
}
