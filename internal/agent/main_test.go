package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

// writePlan writes the plan of a command line of flags (see flagplan) into
// the file dir/name and returns its name.
func writePlan(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	doc, err := testPlan(t, args...).Encode()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestMainExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	url := "--url=" + srv.URL + "/"
	taken, err := net.Listen("tcp", ":0") // every address, as the snapshot endpoint listens
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ran", []string{"run", "--plan-file=" + writePlan(t, dir, "ran", url, "--requests=10", "--result-file="+result)}, 0, ""},
		{"flags instead of a plan", []string{"run", url, "--requests=10"}, 2, "flag provided but not defined: -url"},
		{"unwritable result", []string{"run", "--plan-file=" + writePlan(t, dir, "unwritable", url, "--requests=1", "--result-file="+dir+"/no/such/dir")},
			1, "failed to open result file"},
		{"gate timeout", []string{"run", "--plan-file=" + writePlan(t, dir, "gate", url, "--requests=1", "--start-file="+dir+"/absent", "--start-timeout=50ms")},
			1, "could not run: no start time"},
		{"sleep", []string{"sleep", "--seconds=0", "--message=hi"}, 0, ""},
		// Before the gate: the run fails at once, not after the start timeout.
		{"snapshot port taken", []string{"run", "--plan-file=" + writePlan(t, dir, "port", url, "--requests=1", "--live-port="+port,
			"--start-file="+dir+"/never", "--start-timeout=1h")},
			1, "agent: could not run: failed to serve snapshots on port " + port + " (live.port): listen tcp :" + port + ": bind: address already in use\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	doc, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.Parse(string(doc))
	if err != nil || r.Requests != 10 {
		t.Fatalf("result file: %v, requests %d", err, r.Requests)
	}
}

// TestMainPrintsSummaryLine: stdout holds the JSON summary line scripts read,
// with the run's counts and nothing about the process.
func TestMainPrintsSummaryLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	plan := writePlan(t, t.TempDir(), "plan", "-c", "2", "-d", "100ms", "-url", srv.URL+"/")
	var stdout bytes.Buffer
	if code := Main(context.Background(), []string{"run", "--plan-file=" + plan}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var line string
	for l := range strings.Lines(stdout.String()) {
		if strings.HasPrefix(l, `{"rps":`) {
			line = l
		}
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		t.Fatalf("no summary line in:\n%s", stdout.String())
	}
	if fields["requests"].(float64) == 0 || fields["errors"] != 0.0 || fields["p99"] == "" {
		t.Errorf("summary line %s", line)
	}
	if _, ok := fields["cpuUsPerRequest"]; ok {
		t.Errorf("summary line %s: the process's own numbers are agent-bench's", line)
	}
}

// TestMainPlanFile: `agent run --plan-file=F` runs the plan F holds, as the
// controller writes it; a plan the agent refuses exits 2, naming the field.
func TestMainPlanFile(t *testing.T) {
	var hosts sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hosts.Store(r.Host+" "+r.Method+" "+r.URL.Path, true) }))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	startAt := filepath.Join(dir, "at")
	if err := os.WriteFile(startAt, []byte(time.Now().Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	good := runplan.Plan{
		Target:     runplan.Target{Address: strings.TrimPrefix(srv.URL, "http://"), Host: "web.team-a.svc:8080"},
		Requests:   []runplan.Request{{Name: "default", Weight: 1, Method: "PUT", Path: "/x"}},
		Load:       runplan.Load{Closed: &runplan.Closed{Concurrency: 2, Requests: 7}},
		Timeout:    runplan.Duration(5 * time.Second),
		Start:      &runplan.Start{File: startAt, Timeout: runplan.Duration(time.Second)},
		ResultFile: result,
	}
	doc, err := good.Encode()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(doc), `"concurrency":2`, `"concurrency":0`, 1)
	for _, tc := range []struct {
		name   string
		plan   string
		code   int
		stderr string
	}{
		{"ran", string(doc), 0, ""},
		{"bad field", bad, 2, "load.closed.concurrency must be between 1 and"},
		{"unknown field", strings.Replace(string(doc), `"timeout":"5s"`, `"timeout":"5s","tls":{}`, 1), 2, `unknown field "tls"`},
		{"old version", strings.Replace(string(doc), runplan.Version, "dilo.example.org/runplan/v0", 1), 2, "version is"},
		{"empty", "", 2, "run plan is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "plan")
			if err := os.WriteFile(file, []byte(tc.plan), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"run", "--plan-file=" + file}, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	out, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.Parse(string(out))
	if err != nil || r.Requests != 7 || r.Codes["200"] != 7 {
		t.Fatalf("result file: %v, report %+v", err, r)
	}
	if _, ok := hosts.Load("web.team-a.svc:8080 PUT /x"); !ok {
		var seen []any
		hosts.Range(func(k, _ any) bool { seen = append(seen, k); return true })
		t.Errorf("requests seen %v, want Host web.team-a.svc:8080 PUT /x", seen)
	}
}

func TestParseArgs(t *testing.T) {
	type out struct {
		Plan  *runplan.Plan
		Sleep *SleepConfig
		Err   string
	}
	dir := t.TempDir()
	plan := testPlan(t, "--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--requests=1")
	file := writePlan(t, dir, "plan", "--url=http://10.97.3.4:8080/path", "--host=web.team-a.svc:8080", "--requests=1")
	for _, tc := range []struct {
		name string
		args []string
		want out
	}{
		{"plan file", []string{"run", "--plan-file=" + file}, out{Plan: &plan}},
		{"plan file absent", []string{"run", "--plan-file=/no/such/plan"}, out{Err: "--plan-file /no/such/plan: open /no/such/plan"}},
		{"no plan file", []string{"run"}, out{Err: "--plan-file is required"}},
		{"flags of agent-bench", []string{"run", "--url=http://web/", "--requests=1"}, out{Err: "flag provided but not defined: -url"}},
		{"flags without run", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/"}, out{Err: `unknown subcommand "-c"`}},
		{"stray argument", []string{"run", "--plan-file=" + file, "extra"}, out{Err: `unexpected argument "extra"`}},
		{"help", []string{"run", "--help"}, out{Err: "usage:"}},
		{"sleep", []string{"sleep", "--seconds=120", "--message=I'm so very useful!"}, out{Sleep: &SleepConfig{Seconds: 120, Message: "I'm so very useful!"}}},
		{"sleep default", []string{"sleep"}, out{Sleep: &SleepConfig{Message: "I'm so very useful!"}}},
		{"negative sleep", []string{"sleep", "--seconds=-1"}, out{Err: "--seconds must be >= 0"}},
		{"no subcommand", nil, out{Err: "no subcommand"}},
		{"unknown subcommand", []string{"walk"}, out{Err: `unknown subcommand "walk"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseArgs(tc.args)
			got := out{Plan: cmd.Run, Sleep: cmd.Sleep}
			if err != nil {
				var u *UsageError
				if !errors.As(err, &u) {
					t.Fatalf("error %v is not a UsageError", err)
				}
				got.Err = err.Error()
				if strings.Contains(got.Err, tc.want.Err) {
					got.Err = tc.want.Err
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMainResultChannels: the result file gets the compact document; stdout
// the summary lines, then the full document, with the results of each
// request of a mix, as its very last line; stderr nothing.
func TestMainResultChannels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	plan := testPlan(t, "--url="+srv.URL+"/", "--requests=30", "-c=2", "--result-file="+result)
	plan.Requests = []runplan.Request{{Name: "a", Weight: 2, Method: "GET", Path: "/a"}, {Name: "b", Weight: 1, Method: "GET", Path: "/b"}}
	doc, err := plan.Encode()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "plan")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"run", "--plan-file=" + file}, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	out := stdout.String()
	if !strings.HasSuffix(out, "}\n") {
		t.Fatalf("stdout does not end with a document's line: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last, ok := podreport.LastDocument(stdout.Bytes())
	if !ok || last != lines[len(lines)-1] {
		t.Fatalf("the last line of stdout is not the document:\n%s", out)
	}
	full, err := podreport.ParseFull(last)
	if err != nil {
		t.Fatal(err)
	}
	if full.Requests != 30 || len(full.ByRequest) != 2 || full.ByRequest[0].Name != "a" || full.ByRequest[1].Name != "b" {
		t.Fatalf("full document %s", last)
	}
	if !strings.HasPrefix(lines[len(lines)-2], `{"rps":`) || !strings.HasPrefix(lines[0], "30 requests in") {
		t.Errorf("summary lines do not come before the document:\n%s", out)
	}
	if !strings.Contains(out, "\nrequest a: ") || !strings.Contains(out, "\nrequest b: ") {
		t.Errorf("no summary line for each request:\n%s", out)
	}
	compact, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	r, err := podreport.Parse(string(compact))
	if err != nil || r.Requests != 30 || r.ByRequest != nil {
		t.Fatalf("result file: %v, %s", err, compact)
	}
}

// TestMainValueFiles: header values and bodies in files are sent, and
// nothing the agent prints or writes tells them; a file it cannot use fails
// the run before the start gate, nothing sent, exit 2, the message naming
// the plan's field in stderr and in the result file.
func TestMainValueFiles(t *testing.T) {
	const secret, body = "s3cret-token", "s3cret-body"
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Header.Get("Authorization")+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "termination-log")
	token, bodyFile := writeFile(t, dir, "token", "Bearer "+secret+"\n"), writeFile(t, dir, "body", body)
	run := func(edit func(*runplan.Plan)) (code int, stdout, stderr, written string) {
		plan := testPlan(t, "--url="+srv.URL+"/", "--requests=3", "--method=POST", "--result-file="+result)
		plan.Headers = []runplan.Header{{Name: "Authorization", File: token}}
		plan.Requests[0].Body = &runplan.Body{File: bodyFile}
		edit(&plan)
		doc, err := plan.Encode()
		if err != nil {
			t.Fatal(err)
		}
		file := writeFile(t, dir, "plan", string(doc))
		var out, errs bytes.Buffer
		code = Main(context.Background(), []string{"run", "--plan-file=" + file}, &out, &errs)
		w, _ := os.ReadFile(result)
		return code, out.String(), errs.String(), string(w)
	}
	sent := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	code, stdout, stderr, written := run(func(*runplan.Plan) {})
	if s := sent(); code != 0 || len(s) != 3 || s[0] != "Bearer "+secret+" "+body {
		t.Fatalf("exit %d, the server saw %q", code, s)
	}
	for _, s := range []string{stdout, stderr, written} {
		if strings.Contains(s, secret) || strings.Contains(s, body) {
			t.Errorf("a value or body is printed or written:\n%s", s)
		}
	}
	mu.Lock()
	got = nil
	mu.Unlock()
	for _, tc := range []struct {
		name  string
		edit  func(*runplan.Plan)
		field string
	}{
		{"header file absent", func(p *runplan.Plan) { p.Headers[0].File = dir + "/absent" }, "headers[0].file could not be read"},
		{"header file not a value", func(p *runplan.Plan) {
			p.Requests[0].Headers = []runplan.Header{{Name: "X-A", File: writeFile(t, dir, "bad", secret+"\r\nX-Evil: 1")}}
		}, "requests[0].headers[0].file does not hold a header value"},
		{"body too long", func(p *runplan.Plan) {
			p.Requests[0].Body.File = writeFile(t, dir, "long", strings.Repeat(body, runplan.MaxBodyBytes/len(body)+1))
		}, "requests[0].body.file is longer than"},
		// Before the gate: the run fails at once, not after the start timeout.
		{"before the gate", func(p *runplan.Plan) {
			p.Headers[0].File = dir + "/absent"
			p.Start = &runplan.Start{File: dir + "/never", Timeout: runplan.Duration(5 * time.Second)}
		}, "headers[0].file could not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr, written := run(tc.edit)
			if code != 2 || !strings.HasPrefix(stderr, "agent: bad run plan: "+tc.field) || !strings.HasPrefix(written, "agent: bad run plan: "+tc.field) {
				t.Errorf("exit %d, stderr %q, result file %q; want 2 and %q in both", code, stderr, written, tc.field)
			}
			if stdout != "" || len(sent()) > 0 {
				t.Errorf("stdout %q, %d requests sent, want nothing", stdout, len(sent()))
			}
			if strings.Contains(stderr+written, secret) || strings.Contains(stderr+written, body) {
				t.Errorf("the error tells a value: %q", stderr)
			}
		})
	}
}
