package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dilo-operator/dilo/internal/report/podreport"
	"github.com/dilo-operator/dilo/internal/report/runplan"
)

func TestParseArgs(t *testing.T) {
	bench := runplan.Plan{Version: runplan.Version,
		Target:   runplan.Target{Address: "127.0.0.1:18090", Host: "127.0.0.1:18090"},
		Requests: []runplan.Request{{Name: "default", Weight: 1, Method: "GET", Path: "/"}},
		Load:     runplan.Load{Closed: &runplan.Closed{Concurrency: 64, Duration: runplan.Duration(5 * time.Second)}},
		Timeout:  runplan.Duration(10 * time.Second)}
	tlsBench := bench
	tlsBench.Target = runplan.Target{Address: "127.0.0.1:18443", Host: "127.0.0.1:18443",
		TLS: &runplan.TLS{ServerName: "localhost", CAFile: "/tmp/ca.pem", HTTP2: true}}
	tlsBench.Headers = []runplan.Header{{Name: "Authorization", Value: "Bearer t"}}
	tlsBench.Requests = []runplan.Request{{Name: "default", Weight: 1, Method: "POST", Path: "/", Body: &runplan.Body{File: "/tmp/body"}}}
	for _, tc := range []struct {
		name string
		args []string
		want config
		err  string
	}{
		{"as hack/bench-agent.sh", []string{"run", "-c", "64", "-d", "5s", "--url", "http://127.0.0.1:18090/"}, config{plan: bench}, ""},
		{"without run", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/"}, config{plan: bench}, ""},
		{"cpu profile", []string{"-c", "64", "-d", "5s", "-url", "http://127.0.0.1:18090/", "--cpu-profile=/tmp/p"},
			config{plan: bench, cpuProfile: "/tmp/p"}, ""},
		{"tls, headers, body", []string{"run", "-c", "64", "-d", "5s", "--url", "https://127.0.0.1:18443/", "--server-name=localhost",
			"--ca-file=/tmp/ca.pem", "--http2", "--header", "Authorization: Bearer t", "--method=POST", "--body-file=/tmp/body"},
			config{plan: tlsBench}, ""},
		{"plan field", []string{"run", "-c", "0", "-d", "5s", "--url", "http://127.0.0.1:18090/"}, config{}, "--concurrency must be between 1 and"},
		{"unknown flag", []string{"run", "--plan-file=/etc/dilo/start/plan"}, config{}, "flag provided but not defined: -plan-file"},
		{"stray argument", []string{"run", "-d", "5s", "--url", "http://127.0.0.1:18090/", "extra"}, config{}, `unexpected argument "extra"`},
		{"help", []string{"-h"}, config{}, "usage: agent-bench"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	result := filepath.Join(dir, "result")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"ran", []string{"run", "--url=" + srv.URL + "/", "--requests=10", "--result-file=" + result}, 0, ""},
		{"bad flag", []string{"run", "--url=" + srv.URL + "/", "--requests=-1"}, 2, "--requests must be >= 0"},
		{"unwritable result", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--result-file=" + dir + "/no/such/dir"}, 1, "failed to open result file"},
		{"unwritable profile", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--cpu-profile=" + dir + "/no/such/dir"}, 1, "failed to create CPU profile"},
		{"gate timeout", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--start-file=" + dir + "/absent", "--start-timeout=50ms"}, 1, "could not run: no start time"},
		{"body file absent", []string{"run", "--url=" + srv.URL + "/", "--requests=1", "--method=POST", "--body-file=" + dir + "/absent"},
			2, "agent-bench: --body-file could not be read: open " + dir + "/absent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := benchMain(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d stderr %q, want %d and %q", code, stderr.String(), tc.code, tc.stderr)
			}
		})
	}
	doc, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := podreport.Parse(string(doc)); err != nil || r.Requests != 10 {
		t.Fatalf("result file: %v, requests %d", err, r.Requests)
	}
}

// TestSummaryLine: the JSON line hack/bench-agent.sh reads holds the run's
// "rps" and "errors" and the process's numbers, the full result document
// follows as the last line, and the CPU profile is written.
func TestSummaryLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	var stdout bytes.Buffer
	args := []string{"run", "-c", "2", "-d", "100ms", "--url", srv.URL + "/", "--cpu-profile=" + profile}
	if code := benchMain(context.Background(), args, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var line string
	for l := range strings.Lines(stdout.String()) {
		if strings.HasPrefix(l, `{"rps":`) {
			line = l
		}
	}
	var s processSummary
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("no summary line in:\n%s", stdout.String())
	}
	if s.RPS <= 0 || s.Requests == 0 || s.Errors != 0 || s.CPUMicrosPerReq <= 0 || s.MaxRSSKiB <= 0 {
		t.Errorf("summary line %s", line)
	}
	last := strings.TrimSuffix(stdout.String(), "\n")
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if r, err := podreport.ParseFull(last); err != nil || r.Requests != s.Requests {
		t.Errorf("last line of stdout is not the full result document of the run: %v", err)
	}
	if fi, err := os.Stat(profile); err != nil || fi.Size() == 0 {
		t.Errorf("CPU profile: %v", err)
	}
}
