package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSpecFile(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		file      string
		isProcess bool
	}{
		{"containerd shim create", []string{"--root", "/run/moby", "--log", "/x/log.json", "--log-format", "json", "create", "--bundle", "/b/1", "--pid-file", "/b/1/init.pid", "1"}, "/b/1/config.json", false},
		{"bundle with =", []string{"create", "--bundle=/b/2", "id"}, "/b/2/config.json", false},
		{"short bundle", []string{"run", "-b", "/b/3", "id"}, "/b/3/config.json", false},
		{"bundle defaults to the working directory", []string{"run", "id"}, "config.json", false},
		{"exec with a process file", []string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", true},
		{"exec with flags only", []string{"exec", "--cap", "CAP_KILL", "id", "sh"}, "", false},
		{"other commands", []string{"--root", "/r", "delete", "--force", "id"}, "", false},
		{"a global flag's value is not the command", []string{"--log", "create", "state", "id"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, isProcess := specFile(tc.args)
			if file != tc.file || isProcess != tc.isProcess {
				t.Errorf("specFile(%q) = %q, %v; want %q, %v", tc.args, file, isProcess, tc.file, tc.isProcess)
			}
		})
	}
}

func TestMissingCaps(t *testing.T) {
	// this CI machine's bounding set: everything up to CAP_CHECKPOINT_RESTORE but CAP_SYS_RESOURCE
	got := missingCaps(0x000001fffeffffff)
	if diff := cmp.Diff(map[string]bool{"CAP_SYS_RESOURCE": true}, got); diff != "" {
		t.Errorf("missingCaps (-want +got):\n%s", diff)
	}
	if got := missingCaps(1<<len(capNames) - 1); len(got) != 0 {
		t.Errorf("a full bounding set misses %v", got)
	}
}

func TestFilterCaps(t *testing.T) {
	missing := map[string]bool{"CAP_SYS_RESOURCE": true}
	all := []any{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"}
	kept := []any{"CAP_CHOWN", "CAP_SYS_ADMIN"}
	for _, tc := range []struct {
		name      string
		spec      map[string]any
		isProcess bool
		want      map[string]any // nil: unchanged
	}{
		{
			name: "a privileged container's spec",
			spec: map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"capabilities": map[string]any{
				"bounding": all, "effective": all, "permitted": all}}, "linux": map[string]any{"resources": map[string]any{"memory": map[string]any{"limit": json.Number("9223372036854775807")}}}},
			want: map[string]any{"ociVersion": "1.2.0", "process": map[string]any{"capabilities": map[string]any{
				"bounding": kept, "effective": kept, "permitted": kept}}, "linux": map[string]any{"resources": map[string]any{"memory": map[string]any{"limit": json.Number("9223372036854775807")}}}},
		},
		{
			name:      "an exec'd process",
			spec:      map[string]any{"args": []any{"sh"}, "capabilities": map[string]any{"bounding": all, "ambient": []any{}}},
			isProcess: true,
			want:      map[string]any{"args": []any{"sh"}, "capabilities": map[string]any{"bounding": kept, "ambient": []any{}}},
		},
		{
			name: "a spec asking for none of the missing ones",
			spec: map[string]any{"process": map[string]any{"capabilities": map[string]any{"bounding": kept}}},
		},
		{
			name: "a spec with no process",
			spec: map[string]any{"ociVersion": "1.2.0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := json.Marshal(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			out, changed, err := filterCaps(in, tc.isProcess, missing)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if changed || string(out) != string(in) {
					t.Errorf("changed a spec it had no reason to: %s", out)
				}
				return
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tc.want)
			var wantDoc map[string]any
			_ = json.Unmarshal(want, &wantDoc)
			if diff := cmp.Diff(wantDoc, got); diff != "" || !changed {
				t.Errorf("filterCaps (changed %v) (-want +got):\n%s", changed, diff)
			}
			if string(out) == string(in) {
				t.Error("the output is the input")
			}
			if strings.Contains(string(in), "9223372036854775807") && !strings.Contains(string(out), "9223372036854775807") {
				t.Errorf("a number lost its digits: %s", out)
			}
		})
	}
}
