package agent

import (
	"context"
	"testing"
	"time"
)

// nopFetcher answers every request at once with a 200 and does nothing
// else: a worker's own cost, network aside.
type nopFetcher struct{}

// Do answers 200.
func (nopFetcher) Do(time.Time, *preparedRequest) (int, errClass) { return 200, classNone }

// Connect does nothing.
func (nopFetcher) Connect(context.Context, time.Time) error { return nil }

// BytesReceived is none.
func (nopFetcher) BytesReceived() int64 { return 0 }

// FirstSent is a fixed instant: as for a worker past its first request.
func (nopFetcher) FirstSent() time.Time { return benchEpoch }

// Close does nothing.
func (nopFetcher) Close() {}

// benchEpoch is nopFetcher's first request.
var benchEpoch = time.Date(2026, 11, 28, 19, 0, 0, 0, time.UTC)

// BenchmarkSend is what the agent itself spends on a request, network
// aside: the choice in the mix, the clock and the record in the tally,
// under the worker's lock.
func BenchmarkSend(b *testing.B) {
	src, err := newSource(testRequests(1), []int{1})
	if err != nil {
		b.Fatal(err)
	}
	w := &worker{cursor: src.cursor(0, 1), fetch: nopFetcher{}, tally: newTally(1)}
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		w.send(now, now)
	}
}

// BenchmarkSnapshot is one snapshot of a load of 64 workers, each of which
// has seen two status codes and latencies over three octaves: what a worker
// waits for is its share, 1/64.
func BenchmarkSnapshot(b *testing.B) {
	src, err := newSource(testRequests(1), []int{1})
	if err != nil {
		b.Fatal(err)
	}
	workers := make([]*worker, 64)
	for i := range workers {
		workers[i] = &worker{id: i, cursor: src.cursor(i, len(workers)), fetch: nopFetcher{}, tally: newTally(1)}
		for j := range 1000 {
			workers[i].record(0, 200+j%2*300, classNone, time.Duration(j+1)*5*time.Microsecond)
		}
	}
	l := &load{start: time.Now(), workers: workers, pacer: unsentPacer(0), stop: newStopSignal(), src: src, tlsErr: new(firstError)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.snapshot(); err != nil {
			b.Fatal(err)
		}
	}
}
