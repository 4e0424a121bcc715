package plugin

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func TestParseRunRef(t *testing.T) {
	cases := []struct {
		in      string
		want    runRef
		wantErr string
	}{
		{in: "web", want: runRef{Name: "web"}},
		{in: "web:3", want: runRef{Name: "web", Run: 3}},
		{in: "web.v2:12", want: runRef{Name: "web.v2", Run: 12}},
		{in: "", wantErr: `"" is not NAME or NAME:RUN: "" is not a LoadTest name`},
		{in: ":3", wantErr: `":3" is not NAME or NAME:RUN: "" is not a LoadTest name`},
		{in: "Web:3", wantErr: `"Web:3" is not NAME or NAME:RUN: "Web" is not a LoadTest name`},
		{in: "web:", wantErr: `"web:" is not NAME or NAME:RUN: the run "" is not a run number`},
		{in: "web:x", wantErr: `"web:x" is not NAME or NAME:RUN: the run "x" is not a run number`},
		{in: "web:0", wantErr: `"web:0" is not NAME or NAME:RUN: the run "0" is not a run number`},
		{in: "web:-1", wantErr: `"web:-1" is not NAME or NAME:RUN: the run "-1" is not a run number`},
		{in: "web:+1", wantErr: `"web:+1" is not NAME or NAME:RUN: the run "+1" is not a run number`},
		{in: "web:1:2", wantErr: `"web:1:2" is not NAME or NAME:RUN: the run "1:2" is not a run number`},
	}
	for _, tc := range cases {
		got, err := parseRunRef(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("parseRunRef(%q) = %v, %v; want an error starting %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseRunRef(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("parseRunRef(%q) (-want +got):\n%s", tc.in, diff)
		}
		if got.String() != tc.in {
			t.Errorf("parseRunRef(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestChangeRow(t *testing.T) {
	pct := func(p float64) *float64 { return &p }
	cases := []struct {
		name string
		row  compareRow
		want compareRow
	}{{
		name: "up",
		row:  numberRow("requests", "3000", "6000"),
		want: compareRow{Metric: "requests", A: "3000", B: "6000", ChangePercent: pct(100), change: "+100.0%"},
	}, {
		name: "down, rounded to two decimals",
		row:  numberRow("requests/s", "300.00", "200.00"),
		want: compareRow{Metric: "requests/s", A: "300.00", B: "200.00", ChangePercent: pct(-33.33), change: "-33.3%"},
	}, {
		name: "both zero: no change",
		row:  numberRow("error ratio", "0", "0.0000"),
		want: compareRow{Metric: "error ratio", A: "0", B: "0.0000", ChangePercent: pct(0), change: "+0.0%"},
	}, {
		name: "from a zero baseline: no percentage",
		row:  numberRow("error ratio", "0", "0.0010"),
		want: compareRow{Metric: "error ratio", A: "0", B: "0.0010", change: "n/a (from 0)"},
	}, {
		name: "to zero",
		row:  numberRow("error ratio", "0.0010", "0"),
		want: compareRow{Metric: "error ratio", A: "0.0010", B: "0", ChangePercent: pct(-100), change: "-100.0%"},
	}, {
		name: "a side without the figure",
		row:  numberRow("requests/s", "", "10.00"),
		want: compareRow{Metric: "requests/s", A: "-", B: "10.00"},
	}, {
		name: "latencies compare as shown",
		row:  durationRow("p99", ptrDur(ms(12.31)), ptrDur(ms(24.6))),
		want: compareRow{Metric: "p99", A: "12.4ms", B: "24.6ms", ChangePercent: pct(98.39), change: "+98.4%"},
	}, {
		name: "a latency missing",
		row:  durationRow("p50", nil, ptrDur(ms(2))),
		want: compareRow{Metric: "p50", A: "-", B: "2ms"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.row, cmp.AllowUnexported(compareRow{})); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompareRuns(t *testing.T) {
	lt := newLoadTest("web", finished(3), withHistory(record(1, "50.00"), record(2, "0")))
	other := newLoadTest("api", executing(7), withProgress(23, 2310))
	load := func(lt *dilov1.LoadTest, ref string) (runRef, runData) {
		t.Helper()
		r, err := parseRunRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := runDataOf(lt, r.Run)
		if err != nil {
			t.Fatal(err)
		}
		return r, d
	}
	cases := []struct {
		name   string
		a, b   *dilov1.LoadTest
		ra, rb string
		want   string
	}{{
		name: "a history record and the current run: no p90 nor max",
		a:    lt, ra: "web:1", b: lt, rb: "web",
		want: `              A: web:1 (run 1)   B: web (run 3)   CHANGE
state         finished           finished
requests      1000               3000             +200.0%
requests/s    50.00              100.05           +100.1%
error ratio   0                  0.0010           n/a (from 0)
p50           2ms                2.2ms            +10.0%
p99           10ms               12.9ms           +29.0%
`,
	}, {
		name: "a zero baseline of requests per second",
		a:    lt, ra: "web:2", b: lt, rb: "web:1",
		want: `              A: web:2 (run 2)   B: web:1 (run 1)   CHANGE
state         finished           finished
requests      1000               1000               +0.0%
requests/s    0                  50.00              n/a (from 0)
error ratio   0                  0                  +0.0%
p50           2ms                2ms                +0.0%
p99           10ms               10ms               +0.0%
`,
	}, {
		name: "two current runs, one still going: p90 and max where both have them",
		a:    lt, ra: "web:3", b: other, rb: "api",
		want: `              A: web:3 (run 3)   B: api (run 7) so far   CHANGE
state         finished           executing
requests      3000               2310                    -23.0%
requests/s    100.05             99.80                   -0.2%
error ratio   0.0010             0.0000                  -100.0%
p50           2.2ms              2.1ms                   -4.5%
p90           6.61ms             6.5ms                   -1.7%
p99           12.9ms             12.3ms                  -4.7%
max           40.1ms             -
`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ra, a := load(tc.a, tc.ra)
			rb, b := load(tc.b, tc.rb)
			got := compareTable(compareRuns(ra, a, rb, b))
			if diff := cmp.Diff(strings.Split(tc.want, "\n"), strings.Split(got, "\n")); diff != "" {
				t.Errorf("compareTable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunDataOf(t *testing.T) {
	lt := newLoadTest("web", finished(3), withHistory(record(1, "50.00"), record(3, "100.05")))
	sameSpec := newLoadTest("web", finished(3), func(lt *dilov1.LoadTest) { lt.Status.RunSpecHash = "h" }, withHistory(record(1, "50.00")))
	edited := newLoadTest("web", finished(3), func(lt *dilov1.LoadTest) { lt.Status.RunSpecHash = "h"; lt.Generation = 2 },
		withHistory(record(1, "50.00")))
	cases := []struct {
		name    string
		lt      *dilov1.LoadTest
		run     int64
		want    runData
		wantErr string
		// wantSpec says the run's spec is known: the LoadTest's.
		wantSpec bool
	}{{
		name: "the current run by its number is the current run, with its full figures",
		lt:   lt, run: 3,
		want: runData{Namespace: "ns", LoadTest: "web", Run: 3, Current: true, State: dilov1.StateFinished,
			Reason: dilov1.ReasonFinished, Message: "every pod succeeded", Timeline: "web-timeline-3"},
		wantSpec: true,
	}, {
		name: "a history record: another spec than the current run's",
		lt:   lt, run: 1,
		want: runData{Namespace: "ns", LoadTest: "web", Run: 1, State: dilov1.StateFinished, Reason: dilov1.ReasonFinished,
			Timeline: "web-timeline-1"},
	}, {
		name: "a history record of the current run's spec (the same runSpecHash)",
		lt:   sameSpec, run: 1,
		want: runData{Namespace: "ns", LoadTest: "web", Run: 1, State: dilov1.StateFinished, Reason: dilov1.ReasonFinished,
			Timeline: "web-timeline-1"},
		wantSpec: true,
	}, {
		name: "the LoadTest edited since, not yet seen by the manager: no spec is known",
		lt:   edited, run: 1,
		want: runData{Namespace: "ns", LoadTest: "web", Run: 1, State: dilov1.StateFinished, Reason: dilov1.ReasonFinished,
			Timeline: "web-timeline-1"},
	}, {
		name: "the current run, the LoadTest edited since",
		lt:   edited, run: 3,
		want: runData{Namespace: "ns", LoadTest: "web", Run: 3, Current: true, State: dilov1.StateFinished,
			Reason: dilov1.ReasonFinished, Message: "every pod succeeded", Timeline: "web-timeline-3"},
	}, {
		name: "no such run",
		lt:   lt, run: 2,
		wantErr: `loadtest "web" in namespace "ns" has no run 2: status.history has runs 1; the current run is 3`,
	}, {
		name:    "no run yet",
		lt:      newLoadTest("web"),
		wantErr: `loadtest "web" in namespace "ns" has no run yet: DiLO's manager has not started one (is it running?)`,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runDataOf(tc.lt, tc.run)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The figures and the status parts are the builders'; the rest is what
			// runDataOf decides.
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(runData{}, "Figures", "Results", "Progress",
				"Conditions", "Spec", "Record", "StartTime", "CompletionTime")); diff != "" {
				t.Errorf("runDataOf (-want +got):\n%s", diff)
			}
			if got.Current != (got.Record == nil) {
				t.Errorf("Current %v with Record %v", got.Current, got.Record)
			}
			if (got.Spec != nil) != tc.wantSpec || got.Spec != nil && got.Spec != &tc.lt.Spec {
				t.Errorf("Spec %v, want the LoadTest's: %v", got.Spec, tc.wantSpec)
			}
		})
	}
}
