package agent

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// testStages parses "DURATION:TARGET,..." as the flags' stages, failing the
// test on error.
func testStages(t testing.TB, s string) []runplan.Stage {
	t.Helper()
	var stages []runplan.Stage
	for st := range strings.SplitSeq(s, ",") {
		d, target, _ := strings.Cut(st, ":")
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range target {
			n = 10*n + int(c-'0')
		}
		stages = append(stages, runplan.Stage{Duration: runplan.Duration(dur), Target: n})
	}
	return stages
}

// seconds is s seconds as a duration, rounded to the nanosecond.
func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

// TestRateStages: the timetable of stages holds the floor of the integral of
// the rate, request k at the time the integral reaches k: for a ramp from 0
// to 100 a second over 10s (a rate of 10t, an integral of 5t^2) 500 requests,
// the k-th at sqrt(k/5) seconds.
func TestRateStages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stages string
		len    int64
		at     func(k int64) time.Duration // for every k
		spot   map[int64]time.Duration     // and these exactly
	}{
		{"ramp up", "10s:100", 500, func(k int64) time.Duration { return seconds(math.Sqrt(float64(k) / 5)) },
			map[int64]time.Duration{0: 0, 5: time.Second, 20: 2 * time.Second, 499: seconds(math.Sqrt(99.8))}},
		{"jump", "0s:100,1s:100", 100, func(k int64) time.Duration { return time.Duration(k) * 10 * time.Millisecond }, nil},
		{"ramp then hold", "1s:10,2s:10", 25, func(k int64) time.Duration {
			if k < 5 {
				return seconds(math.Sqrt(float64(k) / 5))
			}
			return time.Second + time.Duration(k-5)*100*time.Millisecond
		}, map[int64]time.Duration{5: time.Second, 24: 2900 * time.Millisecond}},
		{"ramp down", "0s:100,10s:0", 500, func(k int64) time.Duration { return seconds(10 - math.Sqrt(100-float64(k)/5)) },
			map[int64]time.Duration{0: 0, 499: seconds(10 - math.Sqrt(0.2))}},
		// No request while the rate is 0: the one whose integral is reached as
		// the rate falls to 0 goes out when it rises again.
		{"zero rate between", "0s:50,1s:50,2s:0,3s:0,0s:20,1s:20", 120, func(k int64) time.Duration {
			switch {
			case k < 50:
				return time.Duration(k) * 20 * time.Millisecond
			case k < 100: // 50 - 25(t-1)^2 = k - 50 more
				return time.Second + seconds(2-math.Sqrt(4-float64(k-50)/12.5))
			}
			return 6*time.Second + time.Duration(k-100)*50*time.Millisecond
		}, map[int64]time.Duration{99: seconds(3 - math.Sqrt(0.08)), 100: 6 * time.Second}},
		{"zero rate first", "2s:0,0s:10,1s:10", 10, func(k int64) time.Duration { return 2*time.Second + time.Duration(k)*100*time.Millisecond }, nil},
		// An integral that is not whole: 1.5 requests, then 3 more.
		{"fractions", "1s:3,1s:3", 4, nil, map[int64]time.Duration{0: 0, 1: seconds(math.Sqrt(2.0 / 3)), 2: seconds(7.0 / 6), 3: 1500 * time.Millisecond}},
		{"less than one", "1s:1", 0, nil, nil},
		{"no rate", "1s:0,0s:5", 0, nil, nil},
		// The longest, fastest load: no error accumulates over 6e11 requests.
		{"a week at the most", "0s:1000000,168h:1000000", 604_800_000_000, nil, map[int64]time.Duration{
			1: time.Microsecond, 604_799_999_999: 604_800*time.Second - time.Microsecond, 300_000_000_000: 300_000 * time.Second}},
		{"a week's ramp", "168h:1000000", 302_400_000_000, nil, map[int64]time.Duration{
			302_399_999_999: seconds(math.Sqrt(302_399_999_999 / (1e6 / 604800.0 / 2)))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := newRateStages(testStages(t, tc.stages))
			if got := table.len(); got != tc.len {
				t.Fatalf("%d requests, want %d", got, tc.len)
			}
			for k, want := range tc.spot {
				if got := table.at(k); absDuration(got-want) > time.Nanosecond+want/1e12 {
					t.Errorf("request %d at %v, want %v", k, got, want)
				}
			}
			if tc.at == nil {
				return
			}
			for k := range tc.len {
				if got, want := table.at(k), tc.at(k); absDuration(got-want) > time.Nanosecond {
					t.Errorf("request %d at %v, want %v", k, got, want)
				}
			}
		})
	}
}

// absDuration is |d|.
func absDuration(d time.Duration) time.Duration { return max(d, -d) }

// TestRateStagesFollowTheRate: over every second of a load of ramps, jumps
// and holds, the requests the timetable holds are the integral of the rate
// over that second, within one (for the last, the integral up to the whole
// load's floor), and they come in order.
func TestRateStagesFollowTheRate(t *testing.T) {
	stages := testStages(t, "3s:7,0s:40,2500ms:40,4s:0,1s:0,0s:13,1700ms:997,6s:1,3s:250")
	// integral is the integral of the rate from 0 to t, by the stages' trapezoids.
	integral := func(t time.Duration) float64 {
		var sum float64
		var at time.Duration
		prev := 0.0
		for _, st := range stages {
			d, to := time.Duration(st.Duration), float64(st.Target)
			if e := min(max(t-at, 0), d); d > 0 && e > 0 {
				rate := prev + (to-prev)*float64(e)/float64(d)
				sum += (prev + rate) / 2 * e.Seconds()
			}
			at += d
			prev = to
		}
		return sum
	}
	table := newRateStages(stages)
	total := runplan.StagesDuration(stages)
	if want := int64(integral(total)); table.len() != want {
		t.Fatalf("%d requests, want the integral's %d", table.len(), want)
	}
	perSecond := make([]int64, int(total/time.Second)+1)
	prev := time.Duration(0)
	for k := range table.len() {
		at := table.at(k)
		if at < prev || at > total {
			t.Fatalf("request %d at %v, after %v, in a load of %v", k, at, prev, total)
		}
		prev = at
		perSecond[at/time.Second]++
	}
	for s, n := range perSecond {
		end := integral(time.Duration(s+1) * time.Second)
		if s == len(perSecond)-1 { // the load holds the floor of the whole integral
			end = math.Floor(end)
		}
		want := end - integral(time.Duration(s)*time.Second)
		if math.Abs(float64(n)-want) > 1 {
			t.Errorf("second %d: %d requests, want %.2f within 1", s, n, want)
		}
	}
}

// TestConnectionStages: between a stage's start and end the connections are
// its targets' linear interpolation rounded down, a stage of 0 jumping.
func TestConnectionStages(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		stages string
		active map[time.Duration]int
	}{
		{"ramp up", "10s:10", map[time.Duration]int{0: 0, 999 * ms: 0, time.Second: 1, 5500 * ms: 5, 9999 * ms: 9, 10 * time.Second: 10}},
		{"jump and hold", "0s:5,2s:5", map[time.Duration]int{0: 5, time.Second: 5, 2 * time.Second: 5}},
		{"ramp down", "0s:10,10s:0", map[time.Duration]int{0: 10, 500 * ms: 9, 5 * time.Second: 5, 9999 * ms: 0, 10 * time.Second: 0}},
		{"jump between ramps", "5s:10,0s:2,5s:2,0s:7", map[time.Duration]int{4999 * ms: 9, 5 * time.Second: 2, 9999 * ms: 2, 10 * time.Second: 7}},
		{"zero in between", "1s:4,1s:0,1s:0,1s:4", map[time.Duration]int{1 * time.Second: 4, 1500 * ms: 2, 2500 * ms: 0, 3750 * ms: 3}},
		{"the most, for a week", "0s:10000,168h:9999", map[time.Duration]int{0: 10000, 1: 9999, 84 * time.Hour: 9999}},
		{"up to the most over a week", "168h:10000", map[time.Duration]int{84 * time.Hour: 5000, 168*time.Hour - 1: 9999}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newConnectionStages(testStages(t, tc.stages))
			for at, want := range tc.active {
				if got := c.active(at); got != want {
					t.Errorf("at %v: %d connections, want %d", at, got, want)
				}
			}
		})
	}
}

// TestOpenPacerStages: the open model with stages sends the stages'
// timetable, no request before its time.
func TestOpenPacerStages(t *testing.T) {
	w, f := fakeWorker(t, 0)
	start := time.Now()
	p := newPacer(testPlan(t, "--url=http://web/", "--rate-stages=0s:100,100ms:100").Load, start, time.Second, newStopSignal())
	p.run(w)
	if len(f.sent) != 10 || p.unsent(10) != 0 {
		t.Fatalf("%d requests sent, %d unsent, want 10 and 0", len(f.sent), p.unsent(10))
	}
	for i, at := range f.sent {
		if d := at.Sub(start); d < time.Duration(i)*10*time.Millisecond {
			t.Errorf("request %d sent %v after the start, before its %v", i, d, time.Duration(i)*10*time.Millisecond)
		}
	}
}

// TestClosedPacerStages: the closed model with stages sends while its
// worker is among the stages' connections, and not after the stages end.
func TestClosedPacerStages(t *testing.T) {
	w, f := fakeWorker(t, 0)
	start := time.Now()
	p := newPacer(testPlan(t, "--url=http://web/", "--connection-stages=40ms:1,40ms:1").Load, start, time.Second, newStopSignal())
	p.run(w)
	if len(f.sent) == 0 {
		t.Fatal("no request sent")
	}
	if first, last := f.sent[0].Sub(start), f.sent[len(f.sent)-1].Sub(start); first < 40*time.Millisecond || last >= 80*time.Millisecond {
		t.Errorf("requests sent from %v to %v after the start, want within [40ms, 80ms)", first, last)
	}
	budget := newPacer(testPlan(t, "--url=http://web/", "--connection-stages=0s:1,1h:1", "--requests=5").Load, start, time.Second, newStopSignal())
	w, f = fakeWorker(t, 0)
	budget.run(w)
	if len(f.sent) != 5 {
		t.Errorf("%d requests sent, want the cap of 5", len(f.sent))
	}
}
