package podreport

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 123456789, time.UTC)

// sample is a small consistent report.
func sample() Report {
	h := histogram.New(histogram.DefaultPrecision)
	for i := range 998 {
		h.Record(time.Duration(100+i) * time.Microsecond)
	}
	return Report{
		Start: t0, End: t0.Add(time.Minute),
		Requests: 1000, Errors: 5,
		ErrorsByClass: map[string]int64{ClassTimeout: 2},
		Codes:         map[string]int64{"200": 995, "503": 3},
		BytesReceived: 123456,
		Latency:       h,
	}
}

func TestEncodeParseRoundTrip(t *testing.T) {
	r := sample()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(string(b) + "\n")
	if err != nil {
		t.Fatal(err)
	}
	r.Version = Version
	if diff := cmp.Diff(r, got, cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

// worstCase is a maximal report: every latency bucket populated with a huge
// count, every status code 100-599, every error class, extreme counters.
func worstCase() Report {
	h := histogram.New(histogram.DefaultPrecision)
	for v := int64(0); v <= histogram.MaxValue; v += v/300 + 1 { // steps finer than a bucket
		h.Record(time.Duration(v))
	}
	h.Record(time.Duration(histogram.MaxValue))
	for range 40 { // doubling: counts of about 2^40 in every bucket
		if err := h.Merge(h.Clone()); err != nil {
			panic(err)
		}
	}
	responses := int64(h.Count())
	const each = int64(1e12)
	codes := map[string]int64{}
	var bad int64
	for c := 100; c <= 599; c++ {
		codes[strconv.Itoa(c)] = each
		if c < 200 || c > 399 {
			bad += each
		}
	}
	codes["200"] = responses - 499*each
	classes := map[string]int64{}
	for _, c := range Classes {
		classes[c] = math.MaxInt64 / 8
	}
	return Report{
		Start: t0, End: t0.Add(86400 * time.Second),
		Requests: responses + int64(len(Classes))*(math.MaxInt64/8), Errors: bad + int64(len(Classes))*(math.MaxInt64/8),
		ErrorsByClass: classes, Codes: codes,
		BytesReceived: math.MaxInt64,
		Latency:       h,
	}
}

func TestEncodeWorstCase(t *testing.T) {
	r := worstCase()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > MaxEncodedLen {
		t.Fatalf("worst case encodes to %d bytes", len(b))
	}
	got, err := Parse(string(b))
	if err != nil {
		t.Fatalf("worst case does not parse back: %v", err)
	}
	if got.Requests != r.Requests || got.Errors != r.Errors || got.Latency.Count() != r.Latency.Count() {
		t.Fatalf("worst case lost counts: %d/%d/%d", got.Requests, got.Errors, got.Latency.Count())
	}
	if got.Latency.Max() != r.Latency.Max() || got.Latency.Min() != r.Latency.Min() {
		t.Fatalf("min/max %v/%v, want %v/%v", got.Latency.Min(), got.Latency.Max(), r.Latency.Min(), r.Latency.Max())
	}
	if r.Latency.Precision() != histogram.DefaultPrecision {
		t.Fatal("Encode changed the caller's histogram")
	}
	t.Logf("worst case: %d bytes, precision %d, %d code keys", len(b), got.Latency.Precision(), len(got.Codes))
}

func TestEncodeKeepsPrecisionWhenItFits(t *testing.T) {
	b, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Latency.Precision() != histogram.DefaultPrecision {
		t.Fatalf("precision %d, want %d", got.Latency.Precision(), histogram.DefaultPrecision)
	}
}

func TestFoldCodesIsDeterministicAndExact(t *testing.T) {
	codes := map[string]int64{}
	for c := 100; c <= 599; c++ {
		codes[strconv.Itoa(c)] = int64(c % 7)
	}
	a, b := foldCodes(codes, codesBudget), foldCodes(codes, codesBudget)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("not deterministic:\n%s", diff)
	}
	if jsonLen(a) > codesBudget {
		t.Fatalf("folded codes take %d bytes > %d", jsonLen(a), codesBudget)
	}
	for class := '1'; class <= '5'; class++ {
		var want, got int64
		for k, n := range codes {
			if rune(k[0]) == class {
				want += n
			}
		}
		for k, n := range a {
			if rune(k[0]) == class {
				got += n
			}
		}
		if got != want {
			t.Errorf("class %c: %d after folding, want %d", class, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(from, to string) string { return strings.Replace(string(good), from, to, 1) }
	for _, tc := range []struct {
		name, msg, want string
	}{
		{"empty", "", "report is empty"},
		{"oversize", strings.Repeat(" ", MaxEncodedLen+1), "more than the 4096"},
		{"not json", "agent: could not run: no start time", `not a result document: "agent: could not run: no start time"`},
		{"bad json", `{"v":1,`, "not a result document: unexpected EOF"},
		{"trailing", string(good) + "{}", "trailing data"},
		{"version", edit(`"v":1`, `"v":2`), "version 2"},
		{"no latency", edit(`"latency":`, `"latencyX":`), `no "latency"`},
		{"bad histogram", edit(`"latency":"`, `"latency":"!`), "histogram"},
		{"requests mismatch", edit(`"requests":1000`, `"requests":1001`), "requests 1001 != 998 responses + 2"},
		{"errors mismatch", edit(`"errors":5`, `"errors":4`), "errors 4 != 2 without response + 3"},
		{"unknown class", edit(`"timeout"`, `"boom"`), `unknown error class "boom"`},
		{"bad code", edit(`"503"`, `"999"`), `bad status code key "999"`},
		{"negative", edit(`"bytesReceived":123456`, `"bytesReceived":-1`), "negative counter"},
		{"histogram count", edit(`"200":995`, `"200":994`), "requests 1000 != 997"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.msg)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("error %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	good, _ := sample().Encode()
	f.Add(string(good))
	f.Add("")
	f.Add("{}")
	f.Add(`{"v":1,"latency":"CAAA"}`)
	f.Add(`{"v":1,"requests":1,"codes":{"200":1},"latency":"CAEBAQE"}`)
	f.Fuzz(func(t *testing.T, msg string) {
		r, err := Parse(msg)
		if err != nil {
			return
		}
		// Anything Parse accepts re-encodes within the bound and parses again.
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		if len(b) > MaxEncodedLen {
			t.Fatalf("re-encoded to %d bytes", len(b))
		}
		if _, err := Parse(string(b)); err != nil {
			t.Fatalf("re-encoded report does not parse: %v", err)
		}
	})
}
