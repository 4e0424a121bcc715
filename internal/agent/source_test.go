package agent

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testRequests returns n prepared requests, request i having index i.
func testRequests(n int) []preparedRequest {
	reqs := make([]preparedRequest, n)
	for i := range reqs {
		reqs[i] = preparedRequest{index: i}
	}
	return reqs
}

// TestSourceCycle: a cycle lists each request as often as its weight reduced
// by the weights' greatest common divisor, interleaved.
func TestSourceCycle(t *testing.T) {
	for _, tc := range []struct {
		weights []int
		want    []int32
	}{
		{[]int{1}, []int32{0}},
		{[]int{7}, []int32{0}},
		{[]int{1, 1}, []int32{0, 1}},
		{[]int{3, 1}, []int32{0, 0, 1, 0}},
		{[]int{600, 200}, []int32{0, 0, 1, 0}},
		{[]int{5, 1, 1}, []int32{0, 0, 1, 0, 2, 0, 0}}, // nginx's example: a a b a c a a
		{[]int{2, 3}, []int32{1, 0, 1, 0, 1}},
	} {
		src, err := newSource(testRequests(len(tc.weights)), tc.weights)
		if err != nil {
			t.Fatalf("%v: %v", tc.weights, err)
		}
		if diff := cmp.Diff(tc.want, src.cycle); diff != "" {
			t.Errorf("cycle of weights %v (-want +got):\n%s", tc.weights, diff)
		}
	}
}

func TestSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		weights []int
		want    string
	}{
		{"no request", 0, nil, "at least one request"},
		{"a weight short", 2, []int{1}, "one weight per request"},
		{"zero weight", 2, []int{1, 0}, "at least 1, got 0"},
		{"negative weight", 1, []int{-1}, "at least 1, got -1"},
		{"cycle too long", 2, []int{maxCycle, 1}, "add up to more than"},
		{"reduced fits", 2, []int{3 * (maxCycle - 1), 3}, ""},
	} {
		_, err := newSource(testRequests(tc.n), tc.weights)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestCursorShares: every worker's cursor, wherever it starts, sends each
// request its exact share over every cycle, and the workers start spread
// over the cycle.
func TestCursorShares(t *testing.T) {
	weights := []int{5, 1, 1}
	src, err := newSource(testRequests(len(weights)), weights)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 3
	var firsts []int
	for k := range workers {
		c := src.cursor(k, workers)
		counts := make([]int, len(weights))
		for i := range 10 * len(src.cycle) {
			r := c.next()
			if i == 0 {
				firsts = append(firsts, r.index)
			}
			counts[r.index]++
		}
		if diff := cmp.Diff([]int{50, 10, 10}, counts); diff != "" {
			t.Errorf("worker %d over 10 cycles (-want +got):\n%s", k, diff)
		}
	}
	if diff := cmp.Diff([]int{0, 0, 0}, firsts); diff == "" {
		t.Errorf("every worker starts with request 0 (cycle %v)", src.cycle)
	}
}

func TestCursorDoesNotAllocate(t *testing.T) {
	src, err := newSource(testRequests(3), []int{4, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	c := src.cursor(0, 1)
	if allocs := testing.AllocsPerRun(1000, func() { c.next() }); allocs != 0 {
		t.Fatalf("%v allocations per request", allocs)
	}
}

// TestSourceShares: requests are shared over the mix by whole cycles, the
// rest from the cycle's start.
func TestSourceShares(t *testing.T) {
	src, err := newSource(testRequests(3), []int{5, 1, 1}) // cycle: 0 0 1 0 2 0 0
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int64][]int64{0: {0, 0, 0}, 1: {1, 0, 0}, 3: {2, 1, 0}, 5: {3, 1, 1}, 7: {5, 1, 1},
		7_000_000_000_003: {5_000_000_000_002, 1_000_000_000_001, 1_000_000_000_000}} {
		if diff := cmp.Diff(want, src.shares(n)); diff != "" {
			t.Errorf("%d shared (-want +got):\n%s", n, diff)
		}
	}
}
