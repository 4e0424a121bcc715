package htmlreport

import (
	"bytes"
	"fmt"
	"html"
	"html/template"
	"image/color"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	xfnt "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/dilo-operator/dilo/internal/report/histogram"
	"github.com/dilo-operator/dilo/internal/report/live"
)

// The latency spectrum, after HdrHistogram's plots: latency against
// percentile, the percentile on a scale of log10(1/(1-p)), so that 90 %, 99 %,
// 99.9 % and 99.99 % are equally far apart and the tail, where the trouble
// is, takes most of the axis.

const (
	// spectrumDecades is how many nines the x axis spans: it ends at 99.99 %.
	spectrumDecades = 4
	// samplesPerDecade is how many points a line has between two nines.
	samplesPerDecade = 50
)

// spectrumTicks are the labelled percentiles of the x axis, at x = 0..4.
var spectrumTicks = []string{"0%", "90%", "99%", "99.9%", "99.99%"}

// spectrumX is where percentile p (0 <= p < 1) lies on the x axis.
func spectrumX(p float64) float64 { return -math.Log10(1 - p) }

// percentileAt is spectrumX's inverse. At the ticks it is exactly the
// decimal 0.9, 0.99, ...: Pow is exact for powers of ten and the
// subtraction rounds to the decimal, so Quantile ranks them as it ranks
// those numbers.
func percentileAt(x float64) float64 { return 1 - math.Pow(10, -x) }

// spectrumPoints is h's latency in milliseconds along the x axis, from the
// minimum at 0 % to the 99.99th percentile, samplesPerDecade points a decade
// (the integer x, the ticks, among them). h must not be empty.
func spectrumPoints(h *histogram.Histogram) plotter.XYs {
	xys := make(plotter.XYs, spectrumDecades*samplesPerDecade+1)
	for i := range xys {
		x := float64(i) / samplesPerDecade
		d := h.Min()
		if i > 0 {
			d = h.Quantile(percentileAt(x))
		}
		xys[i] = plotter.XY{X: x, Y: millis(d)}
	}
	return xys
}

// series is one line of a plot.
type series struct {
	label string
	xys   plotter.XYs
	color color.Color
	width vg.Length
}

// spectrumFigure is the run's spectrum: a line for the total and one for
// each request of a mix.
func spectrumFigure(r Run) (figure, error) {
	f := figure{ID: "spectrum-plot"}
	if r.Latency == nil {
		f.Note = "No latency histogram kept for this run."
		return f, nil
	}
	if r.Latency.Count() == 0 {
		f.Note = "The latency histogram is empty: no request was recorded."
		return f, nil
	}
	lines := []series{{label: "all requests", xys: spectrumPoints(r.Latency), color: ink, width: 2}}
	for i, name := range requestNames(r) {
		lines = append(lines, series{label: name, xys: spectrumPoints(r.ByRequest[name]), color: palette[i%len(palette)], width: 1.5})
	}
	svg, err := spectrumSVG(lines, "Latency by percentile of "+labelOf(r))
	f.SVG = svg
	return f, err
}

// requestNames are the requests of r.ByRequest that have a non-empty
// histogram: in the status's (the plan's) order, then any others by name.
func requestNames(r Run) []string {
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if h := r.ByRequest[name]; h != nil && h.Count() > 0 && !seen[name] {
			names = append(names, name)
			seen[name] = true
		}
	}
	if r.Results != nil {
		for _, q := range r.Results.ByRequest {
			add(q.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(r.ByRequest)) {
		add(name)
	}
	return names
}

// compareFigure is both runs' spectra on one plot, labelled la and lb.
func compareFigure(a, b Run, la, lb string) (figure, error) {
	f := figure{ID: "compare-plot"}
	var lines []series
	var missing []string
	for _, run := range []struct {
		r     Run
		label string
		color color.Color
	}{{a, la, runColors[0]}, {b, lb, runColors[1]}} {
		if run.r.Latency == nil || run.r.Latency.Count() == 0 {
			missing = append(missing, run.label)
			continue
		}
		lines = append(lines, series{label: run.label, xys: spectrumPoints(run.r.Latency), color: run.color, width: 2})
	}
	switch len(missing) {
	case 1:
		f.Note = "No latency histogram kept for " + missing[0] + "."
	case 2:
		f.Note = "No latency histogram kept for either run."
		return f, nil
	}
	svg, err := spectrumSVG(lines, "Latency by percentile of "+la+" and "+lb)
	f.SVG = svg
	return f, err
}

// spectrumSVG draws spectrum lines.
func spectrumSVG(lines []series, label string) (template.HTML, error) {
	p, err := spectrumPlot(lines)
	if err != nil {
		return "", err
	}
	return svgOf(760, 340, label, p.Draw)
}

// spectrumPlot is the plot of spectrum lines: the x axis from 0 % to
// 99.99 %, ticked at each nine, the y axis in milliseconds.
func spectrumPlot(lines []series) (*plot.Plot, error) {
	p := newPlot("percentile", "latency (ms)")
	p.X.Min, p.X.Max = 0, spectrumDecades
	ticks := make(plot.ConstantTicks, len(spectrumTicks))
	for i, l := range spectrumTicks {
		ticks[i] = plot.Tick{Value: float64(i), Label: l}
	}
	p.X.Tick.Marker = ticks
	if err := addLines(p, lines, true); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs, p.Legend.Padding = 12, -4, 2
	return p, nil
}

// timelineFigure is the run's figures over time, the rate, the errors and
// the latency, as panels of one plot whose time axes line up.
func timelineFigure(tl *live.Timeline) (figure, error) {
	f := figure{ID: "timeline-plot"}
	if tl == nil || len(tl.Entries) == 0 {
		f.Note = "No timeline kept for this run."
		return f, nil
	}
	var rps, errs, p50, p99 plotter.XYs
	end := 0.0
	for _, e := range tl.Entries {
		if e.Length <= 0 {
			continue // no rate can be told of an instant
		}
		x := (e.Start + e.Length/2).Seconds()
		end = max(end, (e.Start + e.Length).Seconds())
		rps = append(rps, plotter.XY{X: x, Y: e.RequestsPerSecond()})
		errs = append(errs, plotter.XY{X: x, Y: float64(e.Errors) / e.Length.Seconds()})
		p50 = append(p50, plotter.XY{X: x, Y: millis(e.P50)})
		p99 = append(p99, plotter.XY{X: x, Y: millis(e.P99)})
	}
	if len(rps) == 0 {
		f.Note = "The timeline has no window of any length."
		return f, nil
	}
	panels := []struct {
		title, y string
		lines    []series
	}{
		{"Requests per second", "requests/s", []series{{label: "requests/s", xys: rps, color: palette[0], width: 1.5}}},
		{"Errors per second", "errors/s", []series{{label: "errors/s", xys: errs, color: bad, width: 1.5}}},
		{"Latency", "latency (ms)", []series{
			{label: "p50", xys: p50, color: palette[0], width: 1.5},
			{label: "p99", xys: p99, color: palette[1], width: 1.5},
		}},
	}
	plots := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		xLabel := ""
		if i == len(panels)-1 {
			xLabel = "seconds since the send start" // once, under the lowest panel
		}
		p := newPlot(xLabel, pn.y)
		p.Title.Text = pn.title
		p.X.Min, p.X.Max = 0, end
		// One line needs no legend: the title names it.
		if err := addLines(p, pn.lines, len(pn.lines) > 1); err != nil {
			return figure{}, err
		}
		p.Legend.Top, p.Legend.Padding = true, 2
		plots[i] = p
	}
	svg, err := svgOf(760, vg.Length(170*len(plots)), "Requests, errors and latency over time", func(c draw.Canvas) {
		rows := make([][]*plot.Plot, len(plots))
		for i, p := range plots {
			rows[i] = []*plot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadY: 14}
		for i, cs := range plot.Align(rows, tiles, c) {
			plots[i].Draw(cs[0])
		}
	})
	f.SVG = svg
	return f, err
}

// millis is d in milliseconds, the unit of every latency axis.
func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The look of the plots: the page's colours, Liberation Sans (see the
// package comment), thin grey grid lines.
var (
	ink      = color.RGBA{R: 0x1f, G: 0x23, B: 0x28, A: 0xff}
	muted    = color.RGBA{R: 0x59, G: 0x63, B: 0x6e, A: 0xff}
	gridGrey = color.RGBA{R: 0xe3, G: 0xe7, B: 0xeb, A: 0xff}
	bad      = color.RGBA{R: 0xcf, G: 0x22, B: 0x2e, A: 0xff}
	// palette is Tableau 10, told apart by most readers, colour-blind ones too.
	palette = []color.Color{
		color.RGBA{R: 0x4e, G: 0x79, B: 0xa7, A: 0xff}, color.RGBA{R: 0xf2, G: 0x8e, B: 0x2b, A: 0xff},
		color.RGBA{R: 0x59, G: 0xa1, B: 0x4f, A: 0xff}, color.RGBA{R: 0xb0, G: 0x7a, B: 0xa1, A: 0xff},
		color.RGBA{R: 0x76, G: 0xb7, B: 0xb2, A: 0xff}, color.RGBA{R: 0xed, G: 0xc9, B: 0x48, A: 0xff},
		color.RGBA{R: 0xe1, G: 0x57, B: 0x59, A: 0xff}, color.RGBA{R: 0x9c, G: 0x75, B: 0x5f, A: 0xff},
		color.RGBA{R: 0xff, G: 0x9d, B: 0xa7, A: 0xff}, color.RGBA{R: 0xba, G: 0xb0, B: 0xac, A: 0xff},
	}
	// runColors are run a's and run b's in a comparison: blue and orange.
	runColors = []color.Color{palette[0], palette[1]}

	sans = font.Font{Typeface: "Liberation", Variant: "Sans"}
	// handler measures text with a font cache of the report's own, so that
	// the report never changes gonum's package-level defaults, which other
	// code in the process may rely on.
	handler = text.Plain{Fonts: font.NewCache(liberation.Collection())}
)

// newPlot is an empty plot with the report's look and axis labels, its y
// axis starting at 0.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.TextHandler = handler
	for _, s := range []struct {
		style *text.Style
		size  font.Length
		color color.Color
	}{
		{&p.Title.TextStyle, 11, ink},
		{&p.X.Label.TextStyle, 10.5, muted}, {&p.Y.Label.TextStyle, 10.5, muted},
		{&p.X.Tick.Label, 9.5, muted}, {&p.Y.Tick.Label, 9.5, muted},
		{&p.Legend.TextStyle, 10, ink},
	} {
		s.style.Font, s.style.Handler, s.style.Color = font.From(sans, s.size), handler, s.color
	}
	p.Title.TextStyle.Font.Weight = xfnt.WeightBold
	p.Title.Padding = 6
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Color, a.Tick.Color = muted, muted
		a.Padding = 0
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.TickerFunc(niceTicks), plot.TickerFunc(niceTicks)
	p.Y.Min = 0
	grid := plotter.NewGrid()
	grid.Vertical.Color, grid.Horizontal.Color = gridGrey, gridGrey
	grid.Vertical.Width, grid.Horizontal.Width = 0.6, 0.6
	p.Add(grid)
	return p
}

// addLines adds lines to p, and to its legend if legend. It then ends the
// y axis at a tick, and gives an axis room when every value on it is the
// same, which gonum would draw as a flat line on the axis.
func addLines(p *plot.Plot, lines []series, legend bool) error {
	for _, s := range lines {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("failed to plot %q: %w", s.label, err)
		}
		l.Color, l.Width = s.color, s.width
		p.Add(l)
		if legend {
			p.Legend.Add(s.label, l)
		}
		if len(s.xys) == 1 { // one point draws no line: mark it
			dot, err := plotter.NewScatter(s.xys)
			if err != nil {
				return fmt.Errorf("failed to plot %q: %w", s.label, err)
			}
			dot.Color = s.color
			p.Add(dot)
		}
	}
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	if p.X.Max <= p.X.Min {
		p.X.Max = p.X.Min + 1
	}
	step := tickStep(p.Y.Min, p.Y.Max)
	p.Y.Max = math.Ceil(p.Y.Max/step) * step
	return nil
}

// ticksWanted is about how many labelled ticks an axis gets: enough to read
// a value off the plot, few enough to stay apart.
const ticksWanted = 6

// niceTicks labels an axis from lo to hi at every tickStep.
func niceTicks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return nil
	}
	step := tickStep(lo, hi)
	// Rounded to the step's decimals (one more for 2.5), so that 3 × 0.2
	// reads 0.6.
	scale := math.Pow10(max(int(-math.Floor(math.Log10(step)))+1, 0))
	var ticks []plot.Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9; i++ {
		v := math.Round(i*step*scale) / scale
		if v == 0 {
			v = 0 // not -0, which reads "-0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// tickStep is the step between ticks from lo to hi (hi > lo): 1, 2, 2.5 or
// 5 times a power of ten, the smallest that makes at most ticksWanted steps.
func tickStep(lo, hi float64) float64 {
	raw := (hi - lo) / ticksWanted
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5} {
		if m*mag >= raw*(1-1e-9) {
			return m * mag
		}
	}
	return 10 * mag
}

// svgOf is what paint draws on w by h points, as an SVG element ready to
// inline in the page: without the XML prelude, labelled for screen readers.
//
// It is trusted as HTML because gonum escapes every text it draws (the
// legends carry request names and run labels) and label is escaped here.
func svgOf(w, h vg.Length, label string, paint func(draw.Canvas)) (template.HTML, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(w, h)) // fonts not embedded: see the package comment
	paint(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", fmt.Errorf("failed to draw %s: %w", label, err)
	}
	s := b.String()
	start := strings.Index(s, "<svg")
	if start < 0 {
		return "", fmt.Errorf("failed to draw %s: no <svg> element in gonum's output", label)
	}
	s = `<svg role="img" aria-label="` + html.EscapeString(label) + `"` + strings.TrimPrefix(s[start:], "<svg")
	return template.HTML(s), nil
}
