package agent

import (
	"errors"
	"fmt"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// maxCycle bounds one cycle of a mix (the sum of its weights reduced by their
// greatest common divisor), and so the memory of its table.
const maxCycle = 1 << 16

// source is what to send: a weighted mix of prepared requests, read-only once
// built and shared by the workers. One cycle of the mix lists each request
// as often as its weight, the weights reduced by their greatest common
// divisor, interleaved by smooth weighted round-robin (as nginx spreads
// requests over weighted upstreams) so that no request comes in long runs.
// Over every cycle the shares are exact.
type source struct {
	requests []preparedRequest
	cycle    []int32 // indexes into requests
}

// planSource is the plan's mix, its values and bodies read from their files
// (see prepareRequests).
func planSource(plan runplan.Plan) (*source, error) {
	reqs, err := prepareRequests(plan)
	if err != nil {
		return nil, err
	}
	weights := make([]int, len(plan.Requests))
	for i, r := range plan.Requests {
		weights[i] = r.Weight
	}
	return newSource(reqs, weights)
}

// newSource returns the mix of requests in which request i has weight
// weights[i], at least 1.
func newSource(requests []preparedRequest, weights []int) (*source, error) {
	if len(requests) == 0 || len(requests) != len(weights) {
		return nil, errors.New("a request mix needs one weight per request, and at least one request")
	}
	g := 0
	for _, w := range weights {
		if w < 1 {
			return nil, fmt.Errorf("a request's weight must be at least 1, got %d", w)
		}
		g = gcd(g, w)
	}
	reduced, total := make([]int, len(weights)), 0
	for i, w := range weights {
		reduced[i] = w / g
		if reduced[i] > maxCycle-total {
			return nil, fmt.Errorf("the weights of the request mix, reduced, add up to more than %d", maxCycle)
		}
		total += reduced[i]
	}
	// Smooth weighted round-robin: at each step every request gains its
	// weight, and the one ahead is picked and loses the total.
	current := make([]int, len(reduced))
	cycle := make([]int32, total)
	for step := range cycle {
		best := 0
		for i, w := range reduced {
			current[i] += w
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		cycle[step] = int32(best)
	}
	return &source{requests: requests, cycle: cycle}, nil
}

// gcd is the greatest common divisor of a and b; gcd(0, b) is b.
func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// cursor returns the cursor of worker k of n. Their walks start spread over
// the cycle, so that the workers do not all send the same request at once.
func (s *source) cursor(k, n int) cursor {
	return cursor{src: s, i: k * len(s.cycle) / n}
}

// cursor is one worker's place in the mix: each worker walks the cycle on
// its own, so that choosing a request shares nothing between workers.
type cursor struct {
	src *source
	i   int
}

// next returns the request to send next, without allocating.
func (c *cursor) next() *preparedRequest {
	r := &c.src.requests[c.src.cycle[c.i]]
	if c.i++; c.i == len(c.src.cycle) {
		c.i = 0
	}
	return r
}

// shares splits n requests over the mix as its cycle would send them: whole
// cycles by the reduced weights, then the rest from the cycle's start. It is
// how requests the open model never sent are told apart by request.
func (s *source) shares(n int64) []int64 {
	out := make([]int64, len(s.requests))
	whole, rest := n/int64(len(s.cycle)), int(n%int64(len(s.cycle)))
	for step, r := range s.cycle {
		out[r] += whole
		if step < rest {
			out[r]++
		}
	}
	return out
}
