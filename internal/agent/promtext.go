package agent

import (
	"strconv"
	"strings"
)

// promText builds a document of Prometheus' text exposition format, version
// 0.0.4: for each metric family its # HELP and # TYPE lines, then its
// samples, one a line: what the snapshot endpoint's /metrics serves.
//
// It writes what it is given as it is: the caller names the families and
// labels validly (legacy names, [a-zA-Z_:][a-zA-Z0-9_:]*), writes each
// family once, its samples together, and gives a histogram's buckets in
// increasing order of bound, their counts cumulative.
type promText struct {
	b    []byte
	name string // the family being written
}

// promContentType is the Content-Type of a promText document.
const promContentType = "text/plain; version=0.0.4; charset=utf-8"

// promLabel is a sample's label.
type promLabel struct{ name, value string }

// promBucket is a histogram's cumulative bucket: how many values are at
// most le.
type promBucket struct {
	le    float64
	count uint64
}

// family begins the family name of type typ (counter, gauge, histogram):
// its HELP and TYPE lines, help escaped. The samples that follow are its.
func (t *promText) family(name, typ, help string) {
	t.name = name
	t.b = append(t.b, "# HELP "...)
	t.b = append(t.b, name...)
	t.b = append(t.b, ' ')
	t.b = appendEscaped(t.b, help, helpEscaper)
	t.b = append(t.b, "\n# TYPE "...)
	t.b = append(t.b, name...)
	t.b = append(t.b, ' ')
	t.b = append(t.b, typ...)
	t.b = append(t.b, '\n')
}

// sample writes one sample of the family's counter or gauge: its value v
// and labels, in their order, their values escaped.
func (t *promText) sample(v float64, labels ...promLabel) {
	t.line("", v, labels...)
}

// histogram writes the family's histogram: a _bucket sample for each of
// buckets, le="+Inf" counting every value, then _sum and _count.
func (t *promText) histogram(buckets []promBucket, count uint64, sum float64) {
	for _, b := range buckets {
		t.line("_bucket", float64(b.count), promLabel{"le", string(appendFloat(nil, b.le))})
	}
	t.line("_bucket", float64(count), promLabel{"le", "+Inf"})
	t.line("_sum", sum)
	t.line("_count", float64(count))
}

// line writes the sample line of the family's name and suffix.
func (t *promText) line(suffix string, v float64, labels ...promLabel) {
	t.b = append(t.b, t.name...)
	t.b = append(t.b, suffix...)
	for i, l := range labels {
		if i == 0 {
			t.b = append(t.b, '{')
		} else {
			t.b = append(t.b, ',')
		}
		t.b = append(t.b, l.name...)
		t.b = append(t.b, `="`...)
		t.b = appendEscaped(t.b, l.value, labelValueEscaper)
		t.b = append(t.b, '"')
	}
	if len(labels) > 0 {
		t.b = append(t.b, '}')
	}
	t.b = append(t.b, ' ')
	t.b = appendFloat(t.b, v)
	t.b = append(t.b, '\n')
}

// The format's escapes: in a help text, backslash and newline; in a label
// value, the double quote too.
var (
	helpEscaper       = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelValueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendEscaped appends s to b through r.
func appendEscaped(b []byte, s string, r *strings.Replacer) []byte {
	return append(b, r.Replace(s)...)
}

// appendFloat appends v as Prometheus' clients write a number: Go's
// shortest form ("0.0005", "1", "2.5", "1.234567e+06"), and NaN, +Inf and
// -Inf, which is how the format spells them.
func appendFloat(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
