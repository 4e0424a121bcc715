package podreport

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/histogram"
)

var t0 = time.Date(2026, 11, 28, 19, 0, 0, 123456789, time.UTC)

// histEqual compares histograms by content in cmp.Diff.
var histEqual = cmp.Comparer(func(a, b *histogram.Histogram) bool { return a.Equal(b) })

// sample is a small consistent report of a single request.
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

// sampleMix is a small consistent report of a mix of two requests, "list"
// and "order", whose totals are the sums of the two; its latencies fall in a
// few buckets so that even its full document is short.
func sampleMix() Report { return sampleMixAt(histogram.DefaultPrecision) }

// sampleMixAt is sampleMix with histograms of precision p.
func sampleMixAt(p int) Report {
	hist := func(n int, base time.Duration) *histogram.Histogram {
		h := histogram.New(p)
		for i := range n {
			h.Record(base + time.Duration(i%4)*50*time.Microsecond)
		}
		return h
	}
	list := RequestReport{
		Name: "list", Requests: 800, Errors: 3,
		ErrorsByClass: map[string]int64{ClassTimeout: 2},
		Codes:         map[string]int64{"200": 797, "503": 1},
		Latency:       hist(798, time.Millisecond),
	}
	order := RequestReport{
		Name: "order", Requests: 200, Errors: 2,
		ErrorsByClass: map[string]int64{ClassTLS: 1},
		Codes:         map[string]int64{"201": 198, "500": 1},
		Latency:       hist(199, 5*time.Millisecond),
	}
	total := list.Latency.Clone()
	if err := total.Merge(order.Latency); err != nil {
		panic(err)
	}
	return Report{
		Start: t0, End: t0.Add(time.Minute),
		Requests: 1000, Errors: 5,
		ErrorsByClass: map[string]int64{ClassTimeout: 2, ClassTLS: 1},
		Codes:         map[string]int64{"200": 797, "201": 198, "500": 1, "503": 1},
		BytesReceived: 123456,
		Latency:       total,
		TLSError:      "tls: failed to verify certificate: x509: certificate signed by unknown authority",
		ByRequest:     []RequestReport{list, order},
	}
}

// live is r as a live snapshot whose first request was sent 41µs after the start.
func live(r Report) Report {
	r.Live = true
	return firstAt(r, r.Start.Add(41*time.Microsecond))
}

// firstAt is r with its first request at at.
func firstAt(r Report, at time.Time) Report {
	r.FirstRequest = at
	return r
}

// TestEncodeParseRoundTrip: each form parses back to what it holds, and
// starts with DocumentPrefix.
func TestEncodeParseRoundTrip(t *testing.T) {
	totalsOnly := func(r Report) Report { r.Compact, r.ByRequest = true, nil; return r }
	for _, tc := range []struct {
		name   string
		in     Report
		full   bool
		want   Report
		suffix string
	}{
		{"compact", sample(), false, totalsOnly(sample()), "\n"},
		{"compact of a mix drops byRequest", sampleMix(), false, totalsOnly(sampleMix()), ""},
		{"full of a mix", sampleMix(), true, sampleMix(), "\r\n"},
		{"full of one request", sample(), true, sample(), ""},
		{"compact keeps firstRequest and live", live(sample()), false, totalsOnly(live(sample())), ""},
		{"full keeps firstRequest and live", live(sampleMix()), true, live(sampleMix()), ""},
		{"first request at the start", firstAt(sample(), t0), true, firstAt(sample(), t0), ""},
		{"first request at the end", firstAt(sample(), t0.Add(time.Minute)), false, totalsOnly(firstAt(sample(), t0.Add(time.Minute))), ""},
		{"first request written in UTC", firstAt(sample(), t0.Add(time.Second).In(time.FixedZone("CET", 3600))), true, firstAt(sample(), t0.Add(time.Second)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			encode, parse := tc.in.Encode, Parse
			if tc.full {
				encode, parse = tc.in.EncodeFull, ParseFull
			}
			b, err := encode()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), DocumentPrefix) || strings.Contains(string(b), "\n") {
				t.Fatalf("document is not one line starting with %s: %.80s", DocumentPrefix, b)
			}
			got, err := parse(string(b) + tc.suffix)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Version = Version
			if diff := cmp.Diff(tc.want, got, histEqual); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// maxTLSError is a TLS error the documents write in the most bytes: of the
// characters JSON may escape, the one that grows most, repeated.
var maxTLSError = func() string {
	var longest, text string
	for _, c := range []string{`"`, `\`, "<", "&", "\u2028", "\uFFFD"} {
		s := strings.Repeat(c, MaxTLSErrorLen/len(c))
		if b, _ := marshal(Report{TLSError: s}); len(b)-len(s) > len(longest)-len(text) {
			longest, text = string(b), s
		}
	}
	return text
}()

// maxTime is the latest time JSON writes, and the longest.
var maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// allCodes maps every status code 100-599 to n.
func allCodes(n int64) map[string]int64 {
	codes := map[string]int64{}
	for c := 100; c <= 599; c++ {
		codes[strconv.Itoa(c)] = n
	}
	return codes
}

// allClasses maps every error class to n.
func allClasses(n int64) map[string]int64 {
	classes := map[string]int64{}
	for _, c := range Classes {
		classes[c] = n
	}
	return classes
}

// maxName is the i-th of MaxRequests distinct names of MaxNameLen bytes.
func maxName(i int) string { return fmt.Sprintf("%s%02d", strings.Repeat("n", MaxNameLen-2), i) }

// compactLenBound is the arithmetic behind MaxEncodedLen: a compact document
// with every field but codes and latency at its longest (counters at
// MaxInt64, every error class, the longest times and TLS error), plus the
// codes' budget and a histogram of precision 2 with every bucket full. Encode
// can always reach that precision, so this bounds what it returns.
func compactLenBound(t *testing.T) int {
	t.Helper()
	empty := histogram.New(2)
	b, err := marshal(Report{
		Version: Version, Compact: true, Start: maxTime, End: maxTime, FirstRequest: maxTime, Live: true,
		Requests: math.MaxInt64, Errors: math.MaxInt64, ErrorsByClass: allClasses(math.MaxInt64),
		BytesReceived: math.MaxInt64, Latency: empty, TLSError: maxTLSError,
	})
	if err != nil {
		t.Fatal(err)
	}
	emptyText, _ := empty.MarshalText()
	return len(b) + len(`,"codes":`) + codesBudget + histogram.EncodedLenBound(2) - len(emptyText)
}

// fullLenBound is the arithmetic behind MaxFullLen: a full document with
// every field at its longest (counters at MaxInt64, every error class and
// status code, MaxRequests entries with names of MaxNameLen bytes, the
// longest times and TLS error) and its 1+MaxRequests histograms at the full
// document's precision with every bucket full.
func fullLenBound(t *testing.T) int {
	t.Helper()
	empty := histogram.New(fullPrecision)
	r := Report{
		Version: Version, Start: maxTime, End: maxTime, FirstRequest: maxTime, Live: true,
		Requests: math.MaxInt64, Errors: math.MaxInt64, ErrorsByClass: allClasses(math.MaxInt64), Codes: allCodes(math.MaxInt64),
		BytesReceived: math.MaxInt64, Latency: empty, TLSError: maxTLSError,
	}
	for i := range MaxRequests {
		r.ByRequest = append(r.ByRequest, RequestReport{
			Name: maxName(i), Requests: math.MaxInt64, Errors: math.MaxInt64,
			ErrorsByClass: allClasses(math.MaxInt64), Codes: allCodes(math.MaxInt64), Latency: empty,
		})
	}
	b, err := marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	emptyText, _ := empty.MarshalText()
	return len(b) + (1+MaxRequests)*(histogram.EncodedLenBound(fullPrecision)-len(emptyText))
}

// TestBounds: the arithmetic of both size bounds, on documents with every
// field at its longest, stays within MaxEncodedLen and MaxFullLen.
func TestBounds(t *testing.T) {
	if b := compactLenBound(t); b > MaxEncodedLen {
		t.Errorf("a compact document may take %d bytes, more than MaxEncodedLen %d", b, MaxEncodedLen)
	} else {
		t.Logf("compact document: at most %d of %d bytes", b, MaxEncodedLen)
	}
	if b := fullLenBound(t); b > MaxFullLen {
		t.Errorf("a full document may take %d bytes, more than MaxFullLen %d", b, MaxFullLen)
	} else {
		t.Logf("full document: at most %d of %d bytes", b, MaxFullLen)
	}
}

// worstHistogram has every latency bucket populated with a count of about 2^40.
func worstHistogram() *histogram.Histogram {
	h := histogram.New(histogram.DefaultPrecision)
	for v := int64(0); v <= histogram.MaxValue; v += v/300 + 1 { // steps finer than a bucket
		h.Record(time.Duration(v))
	}
	h.Record(time.Duration(histogram.MaxValue))
	for range 40 { // doubling
		if err := h.Merge(h.Clone()); err != nil {
			panic(err)
		}
	}
	return h
}

// worstCase is a maximal report of a single request: every latency bucket
// populated with a huge count, every status code 100-599, every error class,
// extreme counters, the longest TLS error.
func worstCase() Report {
	h := worstHistogram()
	responses := int64(h.Count())
	const each = int64(1e12)
	codes := allCodes(each)
	bad := (100 + 200) * each
	codes["200"] = responses - 499*each
	n := int64(len(Classes)) * (math.MaxInt64 / 8)
	return Report{
		Start: t0, End: t0.Add(86400 * time.Second),
		Requests: responses + n, Errors: bad + n,
		ErrorsByClass: allClasses(math.MaxInt64 / 8), Codes: codes,
		BytesReceived: math.MaxInt64,
		Latency:       h,
		TLSError:      maxTLSError,
	}
}

// fullWorstCase is a maximal mix: MaxRequests requests of the longest names,
// each as worstCase is (with counters small enough that the totals fit).
func fullWorstCase() Report {
	one := worstHistogram()
	responses := int64(one.Count())
	const each, perClass = int64(1e12), int64(math.MaxInt64 / 1024)
	r := Report{
		Start: t0, End: t0.Add(86400 * time.Second),
		ErrorsByClass: map[string]int64{}, Codes: map[string]int64{},
		BytesReceived: math.MaxInt64,
		Latency:       histogram.New(histogram.DefaultPrecision),
		TLSError:      maxTLSError,
	}
	for i := range MaxRequests {
		q := RequestReport{
			Name:     maxName(i),
			Requests: responses + int64(len(Classes))*perClass, Errors: (100+200)*each + int64(len(Classes))*perClass,
			ErrorsByClass: allClasses(perClass), Codes: allCodes(each), Latency: one.Clone(),
		}
		q.Codes["200"] = responses - 499*each
		r.Requests += q.Requests
		r.Errors += q.Errors
		sumInto(r.ErrorsByClass, q.ErrorsByClass)
		sumInto(r.Codes, q.Codes)
		if err := r.Latency.Merge(q.Latency); err != nil {
			panic(err)
		}
		r.ByRequest = append(r.ByRequest, q)
	}
	return r
}

// TestEncodeWorstCase: a maximal report, TLS error included, encodes compact
// within the arithmetic bound and parses back with its counts.
func TestEncodeWorstCase(t *testing.T) {
	r := worstCase()
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bound := compactLenBound(t); len(b) > bound {
		t.Fatalf("worst case encodes to %d bytes, more than the %d of the arithmetic", len(b), bound)
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
	if got.TLSError != r.TLSError {
		t.Fatalf("tlsError %q, want %q", got.TLSError, r.TLSError)
	}
	if r.Latency.Precision() != histogram.DefaultPrecision {
		t.Fatal("Encode changed the caller's histogram")
	}
	t.Logf("worst case: %d bytes, precision %d, %d code keys", len(b), got.Latency.Precision(), len(got.Codes))
}

// TestEncodeFullWorstCase: a maximal mix encodes in full within the
// arithmetic bound, parses back unchanged, and still fits a termination
// message in compact form.
func TestEncodeFullWorstCase(t *testing.T) {
	r := fullWorstCase()
	b, err := r.EncodeFull()
	if err != nil {
		t.Fatal(err)
	}
	if bound := fullLenBound(t); len(b) > bound {
		t.Fatalf("worst case encodes to %d bytes, more than the %d of the arithmetic", len(b), bound)
	}
	got, err := ParseFull(string(b))
	if err != nil {
		t.Fatalf("worst case does not parse back: %v", err)
	}
	r.Version = Version
	if diff := cmp.Diff(r, got, histEqual); diff != "" {
		t.Fatalf("worst case round trip (-want +got):\n%s", diff)
	}
	// The same report in compact form still fits a termination message.
	c, err := r.Encode()
	if err != nil || len(c) > MaxEncodedLen {
		t.Fatalf("compact form: %d bytes, %v", len(c), err)
	}
	t.Logf("worst case: %d bytes in full, %d compact", len(b), len(c))
}

// TestEncodeKeepsPrecisionWhenItFits: Encode coarsens only what does not fit.
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

// TestEncodeFullRefuses: EncodeFull refuses what a full document cannot hold.
func TestEncodeFullRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Report)
		want string
	}{
		{"compact", func(r *Report) { r.Compact, r.ByRequest = true, nil }, "a compact report has lost"},
		{"fine histogram", func(r *Report) { *r = sampleMixAt(histogram.MaxPrecision) }, "precision 10, more than the 8"},
		{"inconsistent", func(r *Report) { r.ByRequest[0].Errors++ }, `request "list": errors 4`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleMix()
			tc.edit(&r)
			_, err := r.EncodeFull()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestTLSErrorCleaned: Encode and EncodeFull write a TLS error cut to
// MaxTLSErrorLen bytes at a character boundary, control characters and
// invalid UTF-8 replaced; Parse reads it back as written.
func TestTLSErrorCleaned(t *testing.T) {
	long := strings.Repeat("x", 300)
	accents := strings.Repeat("é", 200) // 400 bytes; 253 falls inside a character
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short", "tls: handshake failure", "tls: handshake failure"},
		{"exactly the limit", long[:MaxTLSErrorLen], long[:MaxTLSErrorLen]},
		{"long", long, long[:MaxTLSErrorLen-3] + "..."},
		{"multibyte at the cut", accents, accents[:252] + "..."},
		{"control characters", "bad\ncert\x00name\x7f", "bad cert name "},
		{"invalid UTF-8", "bad \xff name", "bad \uFFFD name"},
		{"markup", `server said "<h2>" & more`, `server said "<h2>" & more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sample()
			r.Requests++
			r.Errors++
			r.ErrorsByClass[ClassTLS] = 1
			r.TLSError = tc.in
			for _, form := range []struct {
				encode func() ([]byte, error)
				parse  func(string) (Report, error)
			}{{r.Encode, Parse}, {r.EncodeFull, ParseFull}} {
				b, err := form.encode()
				if err != nil {
					t.Fatal(err)
				}
				got, err := form.parse(string(b))
				if err != nil {
					t.Fatal(err)
				}
				if got.TLSError != tc.want || len(got.TLSError) > MaxTLSErrorLen || !utf8.ValidString(got.TLSError) {
					t.Fatalf("tlsError %q (%d bytes), want %q", got.TLSError, len(got.TLSError), tc.want)
				}
			}
		})
	}
}

// TestFoldCodesIsDeterministicAndExact: folding fits the budget, keeps every
// class's count and gives the same result every time.
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

// TestParseErrors: Parse refuses each broken rule of the compact document
// with an error naming it.
func TestParseErrors(t *testing.T) {
	good, err := sample().Encode()
	if err != nil {
		t.Fatal(err)
	}
	full, err := sampleMix().EncodeFull()
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
		{"bad json", `{"v":2,`, "not a result document: unexpected EOF"},
		{"trailing", string(good) + "{}", "trailing data"},
		{"version", edit(`"v":2`, `"v":1`), "version 1, want 2"},
		{"full document", string(full), "not compact"},
		{"no latency", edit(`"latency":`, `"latencyX":`), `no "latency"`},
		{"bad histogram", edit(`"latency":"`, `"latency":"!`), "histogram"},
		{"requests mismatch", edit(`"requests":1000`, `"requests":1001`), "requests 1001 != 998 responses + 2"},
		{"errors mismatch", edit(`"errors":5`, `"errors":4`), "errors 4 != 2 without response + 3"},
		{"unknown class", edit(`"timeout"`, `"boom"`), `unknown error class "boom"`},
		{"bad code", edit(`"503"`, `"999"`), `bad status code key "999"`},
		{"negative", edit(`"bytesReceived":123456`, `"bytesReceived":-1`), "negative counter"},
		{"histogram count", edit(`"200":995`, `"200":994`), "requests 1000 != 997"},
		{"not UTC", edit(`19:00:00.123456789Z`, `20:00:00.123456789+01:00`), "UTC"},
		{"tlsError without tls errors", edit(`"latency":`, `"tlsError":"tls: bad","latency":`), `tlsError set without errors of class "tls"`},
		{"first request before start", edit(`"end":`, `"firstRequest":"2026-11-28T19:00:00.123456788Z","end":`),
			"firstRequest 2026-11-28 19:00:00.123456788 +0000 UTC outside start 2026-11-28 19:00:00.123456789 +0000 UTC and end 2026-11-28 19:01:00.123456789 +0000 UTC"},
		{"first request after end", edit(`"end":`, `"firstRequest":"2026-11-28T19:01:00.12345679Z","end":`), "firstRequest 2026-11-28 19:01:00.12345679 +0000 UTC outside start"},
		{"first request not UTC", edit(`"end":`, `"firstRequest":"2026-11-28T20:00:01+01:00","end":`), `report start, end and firstRequest must be in UTC ("Z")`},
		{"live not a bool", edit(`"requests":`, `"live":1,"requests":`), "cannot unmarshal number"},
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

// TestParseFullErrors: every rule of the full document, broken on a
// consistent mix, is refused by ParseFull with an error naming it, and (where
// Encode does not repair it) by EncodeFull and Encode too.
func TestParseFullErrors(t *testing.T) {
	other := histogram.New(histogram.DefaultPrecision)
	for range 997 {
		other.Record(time.Second)
	}
	for _, tc := range []struct {
		name     string
		edit     func(*Report)
		want     string
		repaired bool // Encode and EncodeFull clean the field rather than refuse it
	}{
		{"compact", func(r *Report) { r.Compact, r.ByRequest = true, nil }, "report is compact", true},
		{"version", func(r *Report) { r.Version = 1 }, "version 1, want 2", true},
		{"entry inconsistent", func(r *Report) { r.ByRequest[1].Requests++ }, `request "order": requests 201 != 199 responses + 1 without response`, false},
		{"entry errors", func(r *Report) { r.ByRequest[0].Errors-- }, `request "list": errors 2 != 2 without response + 1`, false},
		{"entry histogram", func(r *Report) { r.ByRequest[0].Latency.Record(time.Second) }, `request "list": latency histogram holds 799 values for 798 responses`, false},
		{"entry no latency", func(r *Report) { r.ByRequest[0].Latency = nil }, `no "latency" histogram for request 0 ("list")`, false},
		{"name repeated", func(r *Report) { r.ByRequest[1].Name = "list" }, `request name "list" repeated`, false},
		{"name empty", func(r *Report) { r.ByRequest[1].Name = "" }, `request name "" is not 1 to 63 bytes`, false},
		{"name long", func(r *Report) { r.ByRequest[1].Name = strings.Repeat("a", 64) }, "is not 1 to 63 bytes", false},
		{"name quote", func(r *Report) { r.ByRequest[1].Name = `a"b` }, "outside printable ASCII", false},
		{"too many", func(r *Report) {
			for i := range MaxRequests - 1 {
				r.ByRequest = append(r.ByRequest, RequestReport{Name: maxName(i), Latency: histogram.New(histogram.DefaultPrecision)})
			}
		}, "65 byRequest entries, more than 64", false},
		{"requests sum", func(r *Report) { r.Requests++; r.Errors++; r.ErrorsByClass[ClassTimeout]++ },
			"byRequest requests sum to 1000, not the 1001 of the totals", false},
		{"errors sum", func(r *Report) { r.Errors--; r.Codes["503"]--; r.Codes["200"]++ },
			"byRequest errors sum to 5, not the 4 of the totals", false},
		{"class sum", func(r *Report) { r.ErrorsByClass[ClassTimeout]--; r.ErrorsByClass[ClassRefused]++ },
			`byRequest errors of class "refused" sum to 0, not the 1 of the totals`, false},
		{"codes sum", func(r *Report) { r.Codes["200"]--; r.Codes["201"]++ },
			`byRequest codes "200" sum to 797, not the 796 of the totals`, false},
		{"histograms sum", func(r *Report) { r.Latency = other }, "do not merge into the totals' histogram", false},
		{"folded code", func(r *Report) {
			r.ByRequest[0].Codes = map[string]int64{"200": 797, "5xx": 1}
			r.Codes = map[string]int64{"200": 797, "201": 198, "500": 1, "5xx": 1}
		}, `status code class "5xx" in a full report`, false},
		{"fine histogram", func(r *Report) { r.Latency = sampleMixAt(9).Latency },
			"latency histogram of precision 9, more than the 8 of a full document", false},
		{"fine request histogram", func(r *Report) {
			total := r.Latency
			*r = sampleMixAt(9)
			r.Version, r.Latency = Version, total
		}, `request "list": latency histogram of precision 9, more than the 8 of a full document`, false},
		{"tlsError too long", func(r *Report) { r.TLSError = strings.Repeat("x", MaxTLSErrorLen+1) }, "tlsError is 257 bytes, more than 256", true},
		{"tlsError control", func(r *Report) { r.TLSError = "bad\ncert" }, "tlsError holds control characters", true},
		{"tlsError without tls errors", func(r *Report) {
			r.ErrorsByClass = map[string]int64{ClassTimeout: 3}
			r.ByRequest[1].ErrorsByClass = map[string]int64{ClassTimeout: 1}
		}, `tlsError set without errors of class "tls"`, false},
		{"first request before start", func(r *Report) { r.FirstRequest = r.Start.Add(-time.Nanosecond) }, "firstRequest 2026-11-28 19:00:00.123456788 +0000 UTC outside start", false},
		{"first request after end", func(r *Report) { r.Live, r.FirstRequest = true, r.End.Add(time.Nanosecond) }, "firstRequest 2026-11-28 19:01:00.12345679 +0000 UTC outside start", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampleMix()
			r.Version = Version
			tc.edit(&r)
			b, err := marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseFull(string(b)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFull: error %v, want it to contain %q", err, tc.want)
			}
			if tc.repaired {
				return
			}
			if r.ByRequest != nil && r.ByRequest[0].Latency == nil {
				return // the encoders take a Go value, where nil is a different mistake
			}
			if _, err := r.EncodeFull(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EncodeFull: error %v, want it to contain %q", err, tc.want)
			}
			if strings.HasPrefix(tc.name, "fine ") {
				return // the compact form coarsens what it must
			}
			if _, err := r.Encode(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Encode: error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("oversize", func(t *testing.T) {
		_, err := ParseFull(strings.Repeat(" ", MaxFullLen+1))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than the %d of a full document", MaxFullLen)) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("compact with byRequest", func(t *testing.T) {
		r := sampleMix()
		r.Version, r.Compact = Version, true
		b, err := marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(string(b)); err == nil || !strings.Contains(err.Error(), "a compact report has byRequest") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestLastDocument: the last line starting with {"v": wins, whatever lines
// surround it and however it ends.
func TestLastDocument(t *testing.T) {
	doc := `{"v":2,"start":"2026-11-28T19:00:00Z"}`
	for _, tc := range []struct {
		name, log, want string
		ok              bool
	}{
		{"only the document", doc, doc, true},
		{"trailing newline", doc + "\n", doc, true},
		{"CRLF", "a\r\n" + doc + "\r\n", doc, true},
		{"stderr around it", "agent: dialing\n1000 requests in 1.00s\n" + doc + "\nagent: warning: slow close\n", doc, true},
		{"the last of two", `{"v":2,"old":1}` + "\n" + doc + "\nbye\n", doc, true},
		{"JSON lines after it", doc + "\n" + `{"level":"info","msg":"closing"}` + "\n", doc, true},
		{"without a final newline", "hello\n" + doc, doc, true},
		{"no document", "agent: could not run: no start time\n", "", false},
		{"not at the start of a line", "stderr says " + doc + "\n", "", false},
		{"indented", " " + doc + "\n", "", false},
		{"empty", "", "", false},
		{"newlines only", "\n\n", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := LastDocument([]byte(tc.log))
			if diff := cmp.Diff([]any{tc.want, tc.ok}, []any{got, ok}); diff != "" {
				t.Fatalf("LastDocument (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParse: whatever Parse accepts re-encodes within MaxEncodedLen and
// parses again.
func FuzzParse(f *testing.F) {
	good, _ := sample().Encode()
	mix, _ := sampleMix().Encode()
	f.Add(string(good))
	f.Add(string(mix))
	f.Add("")
	f.Add("{}")
	f.Add(`{"v":2,"compact":true,"latency":"CAAA"}`)
	f.Add(`{"v":2,"compact":true,"requests":1,"codes":{"200":1},"latency":"CAEBAQE"}`)
	f.Add(`{"v":2,"compact":true,"start":"2026-11-28T19:00:00Z","end":"2026-11-28T19:00:01Z","firstRequest":"2026-11-28T19:00:00.5Z","live":true,"latency":"CAAA"}`)
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

// FuzzParseFull: whatever ParseFull accepts re-encodes to the same report
// within MaxFullLen, and its compact form parses as a termination message.
func FuzzParseFull(f *testing.F) {
	mix, _ := sampleMix().EncodeFull()
	one, _ := sample().EncodeFull()
	f.Add(string(mix))
	f.Add(string(one))
	f.Add("")
	f.Add(`{"v":2,"latency":"CAAA","byRequest":[{"name":"a","latency":"CAAA"}]}`)
	f.Add(`{"v":2,"requests":1,"codes":{"200":1},"latency":"CAEBAQE","byRequest":[{"name":"a","requests":1,"codes":{"200":1},"latency":"CAEBAQE"}]}`)
	f.Add(`{"v":2,"start":"2026-11-28T19:00:00Z","end":"2026-11-28T19:00:01Z","firstRequest":"2026-11-28T19:00:01Z","live":true,"latency":"CAAA"}`)
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := ParseFull(doc)
		if err != nil {
			return
		}
		// Anything ParseFull accepts re-encodes as it was, within the bound,
		// and its compact form is a termination message.
		b, err := r.EncodeFull()
		if err != nil {
			t.Fatalf("accepted report does not encode: %v", err)
		}
		if len(b) > MaxFullLen {
			t.Fatalf("re-encoded to %d bytes", len(b))
		}
		back, err := ParseFull(string(b))
		if err != nil {
			t.Fatalf("re-encoded report does not parse: %v", err)
		}
		if diff := cmp.Diff(r, back, histEqual); diff != "" {
			t.Fatalf("re-encoded report differs (-first +second):\n%s", diff)
		}
		c, err := r.Encode()
		if err != nil || len(c) > MaxEncodedLen {
			t.Fatalf("compact form: %d bytes, %v", len(c), err)
		}
		if _, err := Parse(string(c)); err != nil {
			t.Fatalf("compact form does not parse: %v", err)
		}
	})
}
