package agent

import (
	"math"
	"math/bits"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// Stages are a load that changes: each stage goes linearly from the previous
// stage's target (0 before the first) to its own over its duration, and a
// stage of duration 0 jumps to its target. Both models read them as
// piecewise-linear functions of the time since the start: the open model's
// rate (rateStages, a timetable) and the closed model's number of
// connections (connectionStages).

// integralUnit is the denominator of a rate segment's integral: a segment
// from r0 to r1 requests a second over d nanoseconds holds (r0+r1)*d /
// integralUnit requests.
const integralUnit = 2 * uint64(time.Second)

// rateStages is the open model's timetable of rate stages: request i is
// intended at the time t where the integral of the rate from 0 to t reaches
// i, so that over any interval the requests intended are the integral of
// the rate over it, to within one. Segments where the rate is 0 throughout
// hold no request; a request whose integral is reached at the start of one
// goes out at its end, when the rate rises again. The load holds the floor
// of the whole integral.
type rateStages struct {
	segs []rateSegment // the stages of non-zero duration, in time order
	n    int64
}

// rateSegment is one stage of non-zero duration. The integral of
// the rate before it is exact (rates are whole requests a second and
// durations whole nanoseconds): whole + frac/integralUnit requests.
type rateSegment struct {
	start, length time.Duration
	from, to      float64 // requests a second at its start and end
	whole         int64   // the integral before it, rounded down
	frac          uint64  // and the rest, in [0, integralUnit)
	first         int64   // the index of its first request: the integral before it, rounded up
}

// newRateStages returns the timetable of stages, which runplan has checked:
// at most 7 days at at most a million requests a second, so that the
// integrals, up to 6.1e11 requests, fit an int64 and its products 128 bits.
func newRateStages(stages []runplan.Stage) *rateStages {
	t := &rateStages{}
	var at time.Duration
	var whole int64
	var frac uint64
	prev := 0
	for _, st := range stages {
		d := time.Duration(st.Duration)
		if d > 0 {
			first := whole
			if frac > 0 {
				first++
			}
			t.segs = append(t.segs, rateSegment{start: at, length: d, from: float64(prev), to: float64(st.Target),
				whole: whole, frac: frac, first: first})
			hi, lo := bits.Mul64(uint64(prev+st.Target), uint64(d))
			q, r := bits.Div64(hi, lo, integralUnit) // hi < integralUnit: the quotient fits
			whole, frac = whole+int64(q), frac+r
			if frac >= integralUnit {
				whole, frac = whole+1, frac-integralUnit
			}
		}
		at += d
		prev = st.Target
	}
	t.n = whole
	return t
}

// len is the floor of the integral of the rate over all the stages.
func (t *rateStages) len() int64 { return t.n }

// at is when request i is intended, 0 <= i < len(): in the last segment
// whose first request is at most i (a segment of rate 0 throughout adds
// nothing to the integral, so the next one has the same first request and
// is the one found), where the integral of the rate since
// the segment's start reaches x, the rest of i, the quadratic
// from*s + (to-from)/(2*length)*s^2 = x solved for s in the form that loses
// no precision when the rate barely changes. Float64 keeps s to well under a
// nanosecond over 7 days.
func (t *rateStages) at(i int64) time.Duration {
	lo, hi := 0, len(t.segs) // the segment is in [lo, hi)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; t.segs[mid].first <= i {
			lo = mid
		} else {
			hi = mid
		}
	}
	g := &t.segs[lo]
	x := float64(i-g.whole) - float64(g.frac)/float64(integralUnit)
	length := g.length.Seconds()
	var s float64
	switch {
	case x <= 0:
	case g.from == g.to:
		s = x / g.from
	default:
		a := (g.to - g.from) / (2 * length)
		s = 2 * x / (g.from + math.Sqrt(max(g.from*g.from+4*a*x, 0)))
	}
	return g.start + min(time.Duration(math.Round(s*float64(time.Second))), g.length)
}

// connectionStages is the closed model's number of connections over the
// stages: between a stage's start and end, the linear interpolation of its
// targets rounded down; after the last stage, its target.
type connectionStages struct {
	segs []connectionSegment // the stages of non-zero duration, in time order
	last int
}

// connectionSegment is one stage of non-zero duration.
type connectionSegment struct {
	start, length time.Duration
	from, to      int64
}

// newConnectionStages returns the connections of stages, which runplan has
// checked: at most 10,000 connections over at most 7 days, so that a target
// times a duration in nanoseconds fits an int64.
func newConnectionStages(stages []runplan.Stage) *connectionStages {
	c := &connectionStages{}
	var at time.Duration
	prev := 0
	for _, st := range stages {
		if d := time.Duration(st.Duration); d > 0 {
			c.segs = append(c.segs, connectionSegment{start: at, length: d, from: int64(prev), to: int64(st.Target)})
			at += d
		}
		prev = st.Target
	}
	c.last = prev
	return c
}

// active is the number of connections at elapsed, without allocating.
func (c *connectionStages) active(elapsed time.Duration) int {
	for j := len(c.segs) - 1; j >= 0; j-- {
		g := &c.segs[j]
		if e := elapsed - g.start; e >= 0 {
			if e >= g.length {
				return c.last // after the last stage
			}
			// from*(length-e) + to*e is at most 10,000 * 7 days in nanoseconds.
			return int((g.from*int64(g.length-e) + g.to*int64(e)) / int64(g.length))
		}
	}
	return int(c.segs[0].from)
}
