// Package argocd tests config/argocd/loadtest-health.lua, the Argo CD health check for
// LoadTests, in the Lua interpreter Argo CD itself runs (gopher-lua), set up as Argo CD
// sets up a custom health check: only the base, package and table libraries, the object
// as the global obj, the returned table's status and message read back. The LoadTests are
// built as Go structs and converted as Argo CD sees them (unstructured, then Lua tables).
// It also checks that the argocd-cm snippet in config/argocd/README.md is the script.
package argocd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

var (
	scriptPath = filepath.Join("..", "..", "config", "argocd", "loadtest-health.lua")
	readmePath = filepath.Join("..", "..", "config", "argocd", "README.md")
)

// configMapKey is the argocd-cm key Argo CD reads a health check for example.org/LoadTest from.
const configMapKey = "resource.customizations.health.example.org_LoadTest"

// health is what the script returns, as Argo CD reads it.
type health struct {
	Status  string
	Message string
}

// toLua converts a value of an unstructured object to Lua, as Argo CD does before
// running a health check.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

// runHealth runs script on obj in a Lua state set up as Argo CD's (no string, math or
// io library) and returns the health it reports.
func runHealth(t *testing.T, script string, obj map[string]any) health {
	t.Helper()
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage, lua.BaseLibName: lua.OpenBase, lua.TabLibName: lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			t.Fatal(err)
		}
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("the script fails: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returns %s, want a table", l.Get(-1).Type())
	}
	return health{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
}

// loadTest returns a LoadTest of 4 pods at generation 2 that the manager has acted on,
// changed by edit.
func loadTest(edit func(lt *dilov1.LoadTest)) *dilov1.LoadTest {
	lt := &dilov1.LoadTest{
		TypeMeta:   metav1.TypeMeta{APIVersion: dilov1.GroupVersion.String(), Kind: "LoadTest"},
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "team-a", Generation: 2},
		Spec:       dilov1.LoadTestSpec{Replicas: 4, Test: dilov1.TestSpec{ServiceName: "shop"}},
		Status:     dilov1.LoadTestStatus{ObservedGeneration: 2, Run: 2},
	}
	if edit != nil {
		edit(lt)
	}
	return lt
}

// ms returns v milliseconds as a metav1.Duration.
func ms(v float64) metav1.Duration {
	return metav1.Duration{Duration: time.Duration(v * float64(time.Millisecond))}
}

// condition returns a LoadTest condition as the manager sets it.
func condition(typ, status, reason, message string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status), Reason: reason, Message: message,
		LastTransitionTime: metav1.NewTime(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))}
}

// TestHealth runs the script on a LoadTest in each state and compares what it reports.
func TestHealth(t *testing.T) {
	data, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	script := string(data)

	cases := []struct {
		name string
		lt   *dilov1.LoadTest
		// object, when set, edits the unstructured object (what no Go struct can say).
		object func(map[string]any)
		want   health
	}{{
		name:   "just created: no status",
		lt:     loadTest(func(lt *dilov1.LoadTest) { lt.Generation = 1 }),
		object: func(o map[string]any) { delete(o, "status") },
		want:   health{"Progressing", "waiting for the controller"},
	}, {
		name: "empty status",
		lt:   loadTest(func(lt *dilov1.LoadTest) { lt.Status = dilov1.LoadTestStatus{} }),
		want: health{"Progressing", "waiting for the controller"},
	}, {
		name: "spec edited, not yet acted on",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Generation = 3
			lt.Status.State = dilov1.StateFinished
		}),
		want: health{"Progressing", "waiting for the controller"},
	}, {
		name: "pending",
		lt:   loadTest(func(lt *dilov1.LoadTest) { lt.Status.State = dilov1.StatePending }),
		want: health{"Progressing", "pending: starting 4 pods"},
	}, {
		name: "pending, one pod",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Spec.Replicas = 1
			lt.Status.State = dilov1.StatePending
		}),
		want: health{"Progressing", "pending: starting 1 pod"},
	}, {
		name: "pending, queued",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StatePending
			lt.Status.Conditions = []metav1.Condition{
				condition(dilov1.ConditionQueued, "True", "Queued", "waiting for a free slot: 2 of 2 runs allowed at once in namespace team-a are running (cart, search); 1 run is ahead of this one in the queue (checkout)"),
			}
		}),
		want: health{"Progressing", "waiting for a free slot: 2 of 2 runs allowed at once in namespace team-a are running (cart, search); 1 run is ahead of this one in the queue (checkout)"},
	}, {
		name: "pending, admitted from the queue",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StatePending
			lt.Status.Conditions = []metav1.Condition{condition(dilov1.ConditionQueued, "False", "Admitted", "a slot is free")}
		}),
		want: health{"Progressing", "pending: starting 4 pods"},
	}, {
		name: "executing, no progress yet",
		lt:   loadTest(func(lt *dilov1.LoadTest) { lt.Status.State = dilov1.StateExecuting }),
		want: health{"Progressing", "executing: 4 pods, no progress yet"},
	}, {
		name: "executing",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateExecuting
			lt.Status.Progress = &dilov1.Progress{ElapsedSeconds: 90, Pods: 4, Requests: 12000, ErrorRatio: "0",
				RequestsPerSecond: "133.3", Latency: dilov1.Percentiles{P50: ms(4.1), P90: ms(11), P99: ms(23.7)}}
		}),
		want: health{"Progressing", "executing: 1m30s elapsed, 12000 requests, p99 23.7ms"},
	}, {
		name: "executing for over an hour",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateExecuting
			lt.Status.Progress = &dilov1.Progress{ElapsedSeconds: 3725, Requests: 1, Latency: dilov1.Percentiles{P99: ms(1500)}}
		}),
		want: health{"Progressing", "executing: 1h2m5s elapsed, 1 request, p99 1.5s"},
	}, {
		name: "finished",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateFinished
			lt.Status.Conditions = []metav1.Condition{condition(dilov1.ConditionComplete, "True", "Finished", "")}
			lt.Status.Results = &dilov1.Results{Pods: 4, Requests: 48000, ErrorRatio: "0.001", RequestsPerSecond: "800",
				Latency: dilov1.Latency{P50: ms(5), P90: ms(12), P99: ms(31.2), Max: ms(80)}}
		}),
		want: health{"Healthy", "finished: 48000 requests, p99 31.2ms"},
	}, {
		name: "failed",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateFailed
			lt.Status.Conditions = []metav1.Condition{
				condition(dilov1.ConditionFailed, "True", "ThresholdBroken", "p99 41ms is above spec.thresholds.maxP99 30ms"),
			}
		}),
		want: health{"Degraded", "ThresholdBroken: p99 41ms is above spec.thresholds.maxP99 30ms"},
	}, {
		name: "failed, no message",
		lt: loadTest(func(lt *dilov1.LoadTest) {
			lt.Status.State = dilov1.StateFailed
			lt.Status.Conditions = []metav1.Condition{condition(dilov1.ConditionFailed, "True", "Stopped", "")}
		}),
		want: health{"Degraded", "Stopped"},
	}, {
		name: "failed, no condition",
		lt:   loadTest(func(lt *dilov1.LoadTest) { lt.Status.State = dilov1.StateFailed }),
		want: health{"Degraded", "failed"},
	}, {
		name:   "a state this script does not know",
		lt:     loadTest(nil),
		object: func(o map[string]any) { o["status"].(map[string]any)["state"] = "paused" },
		want:   health{"Unknown", "unknown state paused"},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tc.lt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.object != nil {
				tc.object(obj)
			}
			if diff := cmp.Diff(tc.want, runHealth(t, script, obj)); diff != "" {
				t.Errorf("health (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadmeSnippet checks that the argocd-cm ConfigMap in the README holds the script
// as it is, so that copying the snippet installs what TestHealth tested.
func TestReadmeSnippet(t *testing.T) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, block := range bytes.Split(readme, []byte("```yaml\n"))[1:] {
		block, _, _ = bytes.Cut(block, []byte("```"))
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(block, &cm); err != nil || cm.Name != "argocd-cm" {
			continue
		}
		found = append(found, cm.Data[configMapKey])
	}
	if len(found) != 1 {
		t.Fatalf("found %d argocd-cm ConfigMaps in %s, want 1", len(found), readmePath)
	}
	if diff := cmp.Diff(strings.Split(string(script), "\n"), strings.Split(found[0], "\n")); diff != "" {
		t.Errorf("%s in the README's argocd-cm differs from %s (-script +README):\n%s", configMapKey, scriptPath, diff)
	}
}
