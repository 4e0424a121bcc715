package htmlreport

// pageTemplate holds both pages, "run" and "compare", and the parts they
// share. It only lays out the views (see view.go): every value is text
// already, and html/template escapes it for where it lands. The style is
// the page's only one: system fonts, tables that line their numbers up,
// plots as wide as the text, and a print layout without margins to waste.
const pageTemplate = `
{{- define "head" -}}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="DiLO">
<title>{{.}}</title>
<style>{{template "css"}}</style>
</head>
{{- end}}

{{- define "css"}}
:root {
  color-scheme: light;
  --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa;
  --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9;
  --neutral: #0969da; --neutral-bg: #ddf4ff;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: #fff; color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif;
  -webkit-font-smoothing: antialiased;
}
main { max-width: 1080px; margin: 0 auto; padding: 32px 32px 48px; }
h1 { font-size: 28px; line-height: 1.25; margin: 2px 0 10px; font-weight: 650; }
h1 .ns { color: var(--muted); font-weight: 400; }
h1 .run { color: var(--muted); font-weight: 400; font-size: 22px; }
h2 { font-size: 18px; font-weight: 650; margin: 0 0 14px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 13px; font-weight: 600; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
section { margin-top: 36px; }
.eyebrow { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .08em; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 28px; align-items: center; font-size: 14px; color: var(--muted); }
.meta b { color: var(--fg); font-weight: 500; }
.state { display: inline-block; padding: 1px 12px; border-radius: 999px; font-weight: 650; font-size: 13px; letter-spacing: .02em; }
.state.ok { color: var(--ok); background: var(--ok-bg); }
.state.bad { color: var(--bad); background: var(--bad-bg); }
.state.neutral { color: var(--neutral); background: var(--neutral-bg); }
.verdict { margin-top: 16px; padding: 10px 16px; border-left: 4px solid; border-radius: 6px; font-size: 15px; overflow-wrap: anywhere; }
.verdict.ok { border-color: var(--ok); background: var(--ok-bg); color: #0f5323; }
.verdict.bad { border-color: var(--bad); background: var(--bad-bg); color: #82071e; }
.verdict.neutral { border-color: var(--neutral); background: var(--neutral-bg); color: #0a3069; }
.verdict strong { font-weight: 650; margin-right: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 12px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { background: var(--panel); color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 13px; white-space: normal; overflow-wrap: anywhere; }
.stats { display: flex; flex-wrap: wrap; margin: 0; border-left: 1px solid var(--line); border-top: 1px solid var(--line); }
.stats + .stats { border-top: 0; }
.stats .cell { flex: 1 1 0; min-width: 130px; border-right: 1px solid var(--line); border-bottom: 1px solid var(--line); padding: 10px 14px; }
.stats dt { font-size: 12px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.stats dd { margin: 0; font-size: 22px; font-weight: 600; line-height: 1.3; font-variant-numeric: tabular-nums; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0; padding: 0; list-style: none; }
.counts li { border: 1px solid var(--line); border-radius: 6px; padding: 2px 10px; font-size: 14px; font-variant-numeric: tabular-nums; }
.counts li .key { color: var(--muted); margin-right: 6px; }
.counts li .n { font-weight: 600; }
figure { margin: 0 0 8px; }
figure svg { display: block; width: 100%; height: auto; }
figure svg text { font-family: "Liberation Sans", Arial, Helvetica, sans-serif !important; }
.note { color: var(--muted); background: var(--panel); border-radius: 6px; padding: 12px 16px; margin: 8px 0; }
pre { margin: 0; padding: 14px 16px; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; overflow-x: auto;
  font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
details summary { cursor: pointer; color: var(--muted); margin-bottom: 8px; }
.runs { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; margin-top: 16px; }
.runs .card { border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; }
.runs .card h2 { border: 0; padding: 0; margin: 0 0 8px; font-size: 17px; }
.runs .card .which { color: var(--muted); font-weight: 400; }
.runs .meta { flex-direction: column; align-items: flex-start; gap: 2px; }
td.better { color: var(--ok); font-weight: 600; }
td.worse { color: var(--bad); font-weight: 600; }
.hint { color: var(--muted); font-size: 13px; margin-top: 8px; }
footer { margin-top: 48px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@media print {
  main { max-width: none; padding: 0; }
  section, figure, .runs { break-inside: avoid; }
}
{{end}}

{{- define "meta" -}}
<div class="meta">
  <span>state <span class="state {{.Tone}}" data-field="state">{{.State}}</span></span>
  <span>start <b data-field="start">{{.Start}}</b></span>
  <span>end <b data-field="end">{{.End}}</b></span>
  <span>duration <b data-field="duration">{{.Duration}}</b></span>
</div>
{{- end}}

{{- define "verdict" -}}
<div class="verdict {{.Tone}}" id="verdict{{with .Which}}-{{.}}{{end}}">
  {{- if or .Reason .Message}}<strong data-field="reason">{{.Reason}}</strong> <span data-field="message">{{.Message}}</span>
  {{- else}}No verdict recorded.{{end -}}
</div>
{{- end}}

{{- define "stats" -}}
<dl class="stats">
  {{- range .}}
  <div class="cell"><dt>{{.Label}}</dt><dd data-field="{{.Name}}"{{if .Title}} title="{{.Title}}"{{end}}>{{.Value}}</dd></div>
  {{- end}}
</dl>
{{- end}}

{{- define "figure" -}}
<figure id="{{.ID}}">
  {{- if .SVG}}{{.SVG}}{{end}}
  {{- if .Note}}<p class="note">{{.Note}}</p>{{end}}
</figure>
{{- end}}

{{- define "run" -}}
{{template "head" printf "%s — DiLO report" .Label}}
<body>
<main>
<header id="run" data-namespace="{{.Namespace}}" data-loadtest="{{.LoadTest}}" data-run="{{.Run}}">
  <div class="eyebrow">DiLO load test report</div>
  <h1>{{if .Namespace}}<span class="ns">{{.Namespace}}/</span>{{end}}{{.LoadTest}} <span class="run">run {{.Run}}</span></h1>
  {{template "meta" .}}
  {{template "verdict" .}}
</header>

<section id="summary">
  <h2>Summary</h2>
  {{- with .Results}}
  {{template "stats" .Traffic}}
  {{template "stats" .Latency}}
  <h3>Errors by class</h3>
  {{- if .ErrorsByClass}}
  <ul class="counts" data-field="errorsByClass">
    {{- range .ErrorsByClass}}
    <li data-class="{{.Key}}"><span class="key">{{.Key}}</span> <span class="n">{{.N}}</span></li>
    {{- end}}
  </ul>
  {{- else}}<p class="note">No request went unanswered.</p>{{end}}
  <h3>Status codes</h3>
  {{- if .Codes}}
  <ul class="counts" data-field="codes">
    {{- range .Codes}}
    <li data-code="{{.Key}}"><span class="key">{{.Key}}</span> <span class="n">{{.N}}</span></li>
    {{- end}}
  </ul>
  {{- else}}<p class="note">No response was received.</p>{{end}}
  {{- else}}
  <p class="note">{{.NoResults}}</p>
  {{- end}}
</section>

<section id="spectrum">
  <h2>Latency by percentile</h2>
  {{template "figure" .Spectrum}}
  {{- if .Spectrum.SVG}}
  <p class="hint">The percentile axis is logarithmic in 1/(1−p), as in HdrHistogram: each step to the right adds a nine. One line for all requests, and one for each request of a mix.</p>
  {{- end}}
</section>

<section id="timeline">
  <h2>Over time</h2>
  {{template "figure" .Timeline}}
</section>

<section id="requests">
  <h2>Requests</h2>
  {{- if .Requests}}
  <table>
    <thead><tr><th>Request</th><th>Requests</th><th>Errors</th><th>Error ratio</th><th>p50</th><th>p90</th><th>p99</th><th>Max</th></tr></thead>
    <tbody>
    {{- range .Requests}}
      <tr data-request="{{.Name}}"><td class="name" data-field="name">{{.Name}}</td><td data-field="requests">{{.Requests}}</td><td data-field="errors">{{.Errors}}</td><td data-field="errorRatio">{{.ErrorRatio}}</td><td data-field="p50">{{.P50}}</td><td data-field="p90">{{.P90}}</td><td data-field="p99">{{.P99}}</td><td data-field="max">{{.Max}}</td></tr>
    {{- end}}
    </tbody>
  </table>
  {{- else}}
  <p class="note">{{.RequestsNote}}</p>
  {{- end}}
</section>

<section id="pods">
  <h2>Pods</h2>
  {{- if .Pods}}
  {{- if gt (len .Pods) 50}}<details><summary>{{len .Pods}} pods</summary>{{end}}
  <table>
    <thead><tr><th>Pod</th><th>Requests</th><th>Errors</th><th>Error ratio</th><th>p99</th><th>Start offset</th></tr></thead>
    <tbody>
    {{- range .Pods}}
      <tr data-pod="{{.Name}}"><td class="name" data-field="name">{{.Name}}</td><td data-field="requests">{{.Requests}}</td><td data-field="errors">{{.Errors}}</td><td data-field="errorRatio">{{.ErrorRatio}}</td><td data-field="p99">{{.P99}}</td><td data-field="startOffset">{{.StartOffset}}</td></tr>
    {{- end}}
    </tbody>
  </table>
  {{- if gt (len .Pods) 50}}</details>{{end}}
  {{- else}}
  <p class="note">{{.PodsNote}}</p>
  {{- end}}
</section>

<section id="spec">
  <h2>Spec</h2>
  {{- if .Spec}}
  <pre data-field="spec">{{.Spec}}</pre>
  {{- else}}
  <p class="note">{{.SpecNote}}</p>
  {{- end}}
</section>

<footer>DiLO report of {{if .Namespace}}{{.Namespace}}/{{end}}{{.Label}}. Self-contained: it loads nothing and runs no script.</footer>
</main>
</body>
</html>
{{end}}

{{- define "card" -}}
<div class="card" data-run="{{.Which}}">
  <h2><span class="which">{{.Which}}</span> {{.Label}}</h2>
  {{template "meta" .}}
  {{template "verdict" .}}
</div>
{{- end}}

{{- define "compare" -}}
{{template "head" printf "%s vs %s — DiLO report" .A.Label .B.Label}}
<body>
<main>
<header id="compare">
  <div class="eyebrow">DiLO load test comparison</div>
  <h1>{{.A.Label}} <span class="ns">vs</span> {{.B.Label}}</h1>
  <div class="runs">
    {{template "card" .A}}
    {{template "card" .B}}
  </div>
</header>

<section id="deltas">
  <h2>Changes from a to b</h2>
  <table>
    <thead><tr><th>Metric</th><th>a: {{.A.Label}}</th><th>b: {{.B.Label}}</th><th>Change</th></tr></thead>
    <tbody>
    {{- range .Deltas}}
      <tr data-metric="{{.Metric}}"><th scope="row">{{.Label}}</th><td data-run="a">{{.A}}</td><td data-run="b">{{.B}}</td><td data-field="change"{{if .Tone}} class="{{.Tone}}"{{end}}>{{.Change}}</td></tr>
    {{- end}}
    </tbody>
  </table>
  <p class="hint">Changes of 5 % or more are coloured: green when better, red when worse.</p>
</section>

<section id="spectrum">
  <h2>Latency by percentile</h2>
  {{template "figure" .Spectrum}}
  {{- if .Spectrum.SVG}}
  <p class="hint">The percentile axis is logarithmic in 1/(1−p), as in HdrHistogram: each step to the right adds a nine.</p>
  {{- end}}
</section>

<footer>DiLO comparison of {{.A.Label}} with {{.B.Label}}. Self-contained: it loads nothing and runs no script.</footer>
</main>
</body>
</html>
{{end}}
`
