package plugin

import (
	"context"
	"strings"
	"testing"
)

// TestHelp checks every command's help is there without a cluster: usage as `kubectl
// dilo ...`, examples, its own flags and not kubectl's whole list of global ones.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"run", "watch", "stop", "rerun", "results", "logs", "compare", "report", "version"} {
		t.Run(cmd, func(t *testing.T) {
			var out, errOut strings.Builder
			if code := Main(context.Background(), []string{cmd, "--help"}, nil, &out, &errOut); code != 0 {
				t.Fatalf("exit code %d, stderr %q", code, errOut.String())
			}
			help := out.String()
			for _, want := range []string{"Usage:\n  kubectl dilo " + cmd, "Examples:\n", "Global Flags: the kubeconfig flags of kubectl"} {
				if !strings.Contains(help, want) {
					t.Errorf("help lacks %q:\n%s", want, help)
				}
			}
			if strings.Contains(help, "--cache-dir") {
				t.Errorf("help lists kubectl's global flags:\n%s", help)
			}
		})
	}
	var out strings.Builder
	if code := Main(context.Background(), []string{"--help"}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "--kubeconfig") {
		t.Errorf("kubectl dilo --help: exit code %d, lacks --kubeconfig:\n%s", code, out.String())
	}
}

// TestUsageErrors checks that wrong arguments exit 2, before any cluster is needed, with
// the error and a pointer to the help.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"watch"}, "error: accepts 1 arg(s), received 0\nSee 'kubectl dilo watch --help'.\n"},
		{[]string{"results", "web", "-o", "xml"}, "error: -o \"xml\": want table, json or yaml\nSee 'kubectl dilo results --help'.\n"},
		{[]string{"compare", "web:x", "web"}, "error: \"web:x\" is not NAME or NAME:RUN: the run \"x\" is not a run number " +
			"(1, 2, ...: status.run, or a run of status.history)\nSee 'kubectl dilo compare --help'.\n"},
		{[]string{"compare", "web", "web", "-o", "xml"}, "error: -o \"xml\": want table, json or html\nSee 'kubectl dilo compare --help'.\n"},
		{[]string{"compare", "web", "web", "--output-file", "c.html"}, "error: --output-file \"c.html\": only -o html writes a file; " +
			"-o table prints to stdout\nSee 'kubectl dilo compare --help'.\n"},
		{[]string{"report"}, "error: accepts 1 arg(s), received 0\nSee 'kubectl dilo report --help'.\n"},
		{[]string{"report", "web:0"}, "error: \"web:0\" is not NAME or NAME:RUN: the run \"0\" is not a run number " +
			"(1, 2, ...: status.run, or a run of status.history)\nSee 'kubectl dilo report --help'.\n"},
		{[]string{"report", "web", "-o", ""}, "error: -o \"\": want a file, or - for stdout\nSee 'kubectl dilo report --help'.\n"},
		{[]string{"run"}, "error: required flag(s) \"filename\" not set\nSee 'kubectl dilo run --help'.\n"},
		{[]string{"run", "-f", "/nonexistent.yaml"}, "error: failed to read the LoadTests to run: open /nonexistent.yaml: no such file or directory\n" +
			"See 'kubectl dilo run --help'.\n"},
		{[]string{"watch", "web", "--timeout", "soon"}, "error: invalid argument \"soon\" for \"--timeout\" flag: time: invalid duration \"soon\"\n" +
			"See 'kubectl dilo watch --help'.\n"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			code := Main(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if code != exitError || errOut.String() != tc.want {
				t.Errorf("exit code %d, stderr %q; want %d, %q", code, errOut.String(), exitError, tc.want)
			}
		})
	}
}
