package plugin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/scheme"
)

// scriptedWatches is a client whose watches play scripts, one per Watch call, and whose
// List returns list; it records the resourceVersion each watch started from.
type scriptedWatches struct {
	scripts [][]watch.Event
	list    *dilov1.LoadTest
	froms   []string
	lists   int
}

func (s *scriptedWatches) client(t *testing.T) client.WithWatch {
	t.Helper()
	return interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme.New()).Build(), interceptor.Funcs{
		Watch: func(ctx context.Context, _ client.WithWatch, _ client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			lo := (&client.ListOptions{}).ApplyOptions(opts)
			s.froms = append(s.froms, lo.Raw.ResourceVersion)
			if len(s.scripts) == 0 {
				return nil, errors.New("no more watches scripted")
			}
			script := s.scripts[0]
			s.scripts = s.scripts[1:]
			w := watch.NewFakeWithChanSize(len(script), false)
			for _, ev := range script {
				w.Action(ev.Type, ev.Object)
			}
			w.Stop() // the server closes the watch once the script is played
			return w, nil
		},
		List: func(ctx context.Context, _ client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			s.lists++
			l := list.(*dilov1.LoadTestList)
			l.ResourceVersion = s.list.ResourceVersion
			l.Items = []dilov1.LoadTest{*s.list.DeepCopy()}
			return nil
		},
	})
}

func rv(v string, lt *dilov1.LoadTest) *dilov1.LoadTest { lt.ResourceVersion = v; return lt }

// TestWatchLoadTest checks the watch glue: a closed watch is resumed from the last
// resourceVersion seen (bookmarks included), and an expired one (410) makes it list
// again, hand the listed state on, and watch from the list's resourceVersion.
func TestWatchLoadTest(t *testing.T) {
	expired := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"}
	s := &scriptedWatches{
		scripts: [][]watch.Event{
			{{Type: watch.Modified, Object: rv("11", newLoadTest("web", pending(1)))}},
			{{Type: watch.Bookmark, Object: rv("15", &dilov1.LoadTest{})}},
			{{Type: watch.Error, Object: expired}},
			{{Type: watch.Modified, Object: rv("31", newLoadTest("web", finished(1)))}},
		},
		list: rv("30", newLoadTest("web", executing(1), withProgress(2, 200))),
	}
	var seen []string
	see := func(lt *dilov1.LoadTest) bool {
		seen = append(seen, lt.ResourceVersion+" "+string(lt.Status.State))
		return ended(lt.Status.State)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := watchLoadTest(ctx, s.client(t), "ns", "web", "10", see); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"11 pending", "30 executing", "31 finished"}, seen); diff != "" {
		t.Errorf("states seen (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"10", "11", "15", "30"}, s.froms); diff != "" {
		t.Errorf("watches started from (-want +got):\n%s", diff)
	}
	if s.lists != 1 {
		t.Errorf("%d lists, want 1 (after the 410)", s.lists)
	}
}

// TestWatchLoadTestErrors checks that an error other than an expired resourceVersion
// ends the watch with it, and a deletion hands nil on.
func TestWatchLoadTestErrors(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "example.org", Resource: "loadtests"}, "web", errors.New("no"))
	s := &scriptedWatches{scripts: [][]watch.Event{{{Type: watch.Error, Object: &forbidden.ErrStatus}}}}
	err := watchLoadTest(context.Background(), s.client(t), "ns", "web", "10", func(*dilov1.LoadTest) bool { return false })
	if !apierrors.IsForbidden(err) {
		t.Errorf("error %v, want the watch's Forbidden", err)
	}

	s = &scriptedWatches{scripts: [][]watch.Event{{{Type: watch.Deleted, Object: rv("12", newLoadTest("web"))}}}}
	var deleted bool
	err = watchLoadTest(context.Background(), s.client(t), "ns", "web", "10", func(lt *dilov1.LoadTest) bool {
		deleted = lt == nil
		return true
	})
	if err != nil || !deleted {
		t.Errorf("error %v, deleted %v; want nil, true", err, deleted)
	}
}
