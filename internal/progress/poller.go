// Package progress follows the LoadTest runs that execute. Every few seconds it reads
// the snapshot of each of their agents (GET /snapshot on the pod's live port: the
// agent's cumulative results so far), merges them across pods (internal/report/live),
// and writes what a user watches:
//
//   - status.progress: the run so far and the last window, and the LiveProgress
//     condition: False, reason PodsUnreachable, while some pod's snapshot cannot be read
//     (a NetworkPolicy, a manager outside the cluster), with a Warning Event the first
//     time. Only the live figures depend on the reads: the run and its final results
//     come from the pods' result documents, as without this package.
//   - the run's timeline, per window, in the ConfigMap <loadtest>-timeline-<run> the
//     LoadTest owns (with a checkpoint, so that a restarted manager resumes the windows
//     without double counting), written every TimelineEvery and when the run ends.
//   - status.stopping, reason ThresholdBroken, when spec.thresholds.abort is set and the
//     last window breaks a threshold: the controller then stops the run's agents.
//   - Prometheus metrics of the runs executing (see metrics.go).
//
// It reads only the pods of the runs it follows, found in the manager's cache by the
// run's labels and the LoadTest's controller reference, at the IP their status gives.
// Reads go at most Concurrency at a time, without keep-alive (a thousand idle
// connections would cost the manager more memory than the reads), each bounded by a
// timeout. A read every Interval, plus one second per 250 pods being read, so that a
// manager following a thousand agents spreads its reads (6 s); `kubectl get ld -w` is
// never more than that, and one patch, behind the agents.
package progress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
	"github.com/dilo-operator/dilo/internal/report/live"
	"github.com/dilo-operator/dilo/internal/report/podreport"
)

// Defaults of the Poller's knobs.
const (
	DefaultInterval    = 2 * time.Second
	DefaultConcurrency = 16
	// TimelineEvery is how often a run's timeline ConfigMap is rewritten while it runs.
	TimelineEvery = 10 * time.Second
	// podsPerExtraSecond is how many pods being read add a second to the interval.
	podsPerExtraSecond = 250
	// fieldOwner is the field manager of the timeline ConfigMaps.
	fieldOwner = "dilo-progress"
)

// Timeline ConfigMap keys.
const (
	KeyTimeline   = "timeline.json"
	KeyCheckpoint = "checkpoint.json"
)

// Poller reads the agents of the executing runs; see the package documentation. It is
// a manager Runnable that runs on the leader only.
type Poller struct {
	// Client reads LoadTests and pods from the manager's cache and writes status
	// patches and timeline ConfigMaps.
	Client client.Client
	// APIReader reads timeline ConfigMaps, which the manager does not cache.
	APIReader client.Reader
	// Recorder records the LiveProgressUnavailable Event.
	Recorder events.EventRecorder
	// HTTP reads the snapshots; nil: a client without keep-alives whose requests time
	// out after the interval or 2 s, whichever is shorter.
	HTTP *http.Client
	// Port is the agents' live port; 0 means dilov1.PortLive (tests move it).
	Port int
	// Interval is the time between reads of a run's agents, before the extra second per
	// 250 pods; 0 means DefaultInterval.
	Interval time.Duration
	// Concurrency bounds the reads in flight; 0 means DefaultConcurrency.
	Concurrency int
	// TimelineEvery is how often a running run's timeline is written; 0 means
	// TimelineEvery.
	TimelineEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	runs     map[types.NamespacedName]*followed
	httpOnce sync.Once
	hc       *http.Client
}

// followed is one run the poller follows.
type followed struct {
	key     types.NamespacedName
	uid     types.UID
	run     int64
	pods    []string
	tracker *live.Tracker
	// savedAt is when the timeline was last written; dirty says observations were made
	// since.
	savedAt time.Time
	dirty   bool
	// unreachable is the last read's problem, "" when every pod read was read; when
	// no pod could be read, the next read probes one pod only, so that a run behind a
	// NetworkPolicy costs one timeout per read, not one per pod.
	unreachable string
	probeOnly   bool
	warned      bool
}

// NeedLeaderElection makes the poller run on the leader only: two managers reading the
// same agents would patch the same status.
func (p *Poller) NeedLeaderElection() bool { return true }

// Start reads until ctx ends, then writes the timelines of the runs it followed.
func (p *Poller) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.runs == nil {
		p.runs = map[types.NamespacedName]*followed{}
	}
	p.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		began := p.now()
		pods := p.Tick(ctx)
		timer.Reset(max(0, p.interval(pods)-p.now().Sub(began)))
	}
}

// interval is the time between two reads when pods are being read.
func (p *Poller) interval(pods int) time.Duration {
	base := p.Interval
	if base <= 0 {
		base = DefaultInterval
	}
	return base + time.Duration(pods/podsPerExtraSecond)*time.Second
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// target is one pod to read.
type target struct {
	pod  string
	addr string
}

// readResult is what reading one pod gave.
type readResult struct {
	snap podreport.Report
	err  error
}

// Tick reads every executing run's agents once, and returns how many pods it read.
func (p *Poller) Tick(ctx context.Context) int {
	var list dilov1.LoadTestList
	if err := p.Client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list LoadTests for live progress")
		return 0
	}
	seen := map[types.NamespacedName]bool{}
	var runs []runRead
	pods := 0
	for i := range list.Items {
		lt := &list.Items[i]
		if !follows(lt, p.now()) {
			continue
		}
		f, err := p.follow(ctx, lt)
		if err != nil {
			log.FromContext(ctx).Error(err, "Failed to follow a run", "loadtest", client.ObjectKeyFromObject(lt))
			continue
		}
		seen[f.key] = true
		ts, err := p.targets(ctx, lt, f)
		if err != nil {
			log.FromContext(ctx).Error(err, "Failed to list a run's pods", "loadtest", f.key)
			continue
		}
		runs = append(runs, runRead{f, lt, ts})
		pods += len(ts)
	}
	// A few runs at a time, each observed as soon as its pods are read: the decoded
	// snapshots of a thousand pods held at once would be the manager's peak memory.
	n := p.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	workers := min(runWorkers, n)
	next := make(chan runRead)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for r := range next {
				p.observe(ctx, r.lt, r.run, p.read(ctx, r.targets, max(1, n/workers)))
			}
		})
	}
	for _, r := range runs {
		next <- r
	}
	close(next)
	wg.Wait()
	p.forgetEnded(ctx, seen)
	return pods
}

// runWorkers is how many runs are read and observed at once.
const runWorkers = 4

// runRead is one run to read: its record, its LoadTest as the cache has it, its pods.
type runRead struct {
	run     *followed
	lt      *dilov1.LoadTest
	targets []target
}

// follows says whether the poller reads lt's agents at now: its run executes, its start
// instant has come (before it, an agent has nothing to serve: it answers 503, which
// would read as unreachable), and its progress is not final yet.
func follows(lt *dilov1.LoadTest, now time.Time) bool {
	st := lt.Status
	return st.State == dilov1.StateExecuting && st.SendStartTime != nil && !now.Before(st.SendStartTime.Time) &&
		(st.Progress == nil || !st.Progress.Final)
}

// follow returns the poller's record of lt's run, made when first seen: resumed from
// the run's timeline checkpoint if it has one (the manager restarted), else new.
func (p *Poller) follow(ctx context.Context, lt *dilov1.LoadTest) (*followed, error) {
	key := client.ObjectKeyFromObject(lt)
	p.mu.Lock()
	f := p.runs[key]
	p.mu.Unlock()
	if f != nil && f.uid == lt.UID && f.run == lt.Status.Run {
		return f, nil
	}
	pods := make([]string, lt.Spec.Replicas)
	for i := range pods {
		pods[i] = dilov1.PodName(lt.Name, lt.Status.Run, int32(i))
	}
	start := lt.Status.SendStartTime.Time
	window := live.AbortWindow(lt.Spec.Thresholds)
	f = &followed{key: key, uid: lt.UID, run: lt.Status.Run, pods: pods, savedAt: p.now()}
	var cm corev1.ConfigMap
	err := p.APIReader.Get(ctx, types.NamespacedName{Namespace: lt.Namespace, Name: dilov1.TimelineName(lt.Name, lt.Status.Run)}, &cm)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("failed to read the timeline of run %d: %w", lt.Status.Run, err)
	}
	if err == nil && cm.Data[KeyCheckpoint] != "" && ownedBy(&cm, lt) {
		if f.tracker, err = live.Restore([]byte(cm.Data[KeyCheckpoint]), start, pods, window); err != nil {
			log.FromContext(ctx).Info("Could not resume a run's timeline; starting it again", "loadtest", key, "error", err.Error())
		}
	}
	if f.tracker == nil {
		if f.tracker, err = live.New(start, pods, window); err != nil {
			return nil, err
		}
	}
	p.mu.Lock()
	p.runs[key] = f
	p.mu.Unlock()
	return f, nil
}

// ownedBy says whether obj is owned by lt (a ConfigMap of that name made by someone
// else is not the run's timeline).
func ownedBy(obj metav1.Object, lt *dilov1.LoadTest) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == lt.UID {
			return true
		}
	}
	return false
}

// targets lists the running pods of f's run, by the run's labels and lt's controller
// reference, at the IP their status gives.
func (p *Poller) targets(ctx context.Context, lt *dilov1.LoadTest, f *followed) ([]target, error) {
	var pods corev1.PodList
	if err := p.Client.List(ctx, &pods, client.InNamespace(lt.Namespace), client.MatchingLabels(dilov1.RunLabels(lt.Name, f.run))); err != nil {
		return nil, err
	}
	port := p.Port
	if port == 0 {
		port = dilov1.PortLive
	}
	var ts []target
	for i := range pods.Items {
		pod := &pods.Items[i]
		ip := net.ParseIP(pod.Status.PodIP)
		if !metav1.IsControlledBy(pod, lt) || pod.Status.Phase != corev1.PodRunning || ip == nil {
			continue
		}
		ts = append(ts, target{pod: pod.Name, addr: net.JoinHostPort(ip.String(), strconv.Itoa(port))})
		if f.probeOnly {
			break
		}
	}
	return ts, nil
}

// read reads one run's targets, at most n at a time, and returns the results by pod.
func (p *Poller) read(ctx context.Context, targets []target, n int) map[string]readResult {
	hc := p.client()
	results := map[string]readResult{}
	var mu sync.Mutex
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			snap, err := readSnapshot(ctx, hc, t.addr)
			mu.Lock()
			defer mu.Unlock()
			results[t.pod] = readResult{snap, err}
		})
	}
	wg.Wait()
	return results
}

// client is the HTTP client of the reads: p.HTTP, or one without keep-alives (a
// thousand idle connections would cost more memory than the reads) whose requests time
// out after the interval or 2 s, whichever is shorter.
func (p *Poller) client() *http.Client {
	p.httpOnce.Do(func() {
		if p.HTTP != nil {
			p.hc = p.HTTP
			return
		}
		p.hc = &http.Client{
			Timeout: min(p.interval(0), 2*time.Second),
			Transport: &http.Transport{
				DisableKeepAlives: true, Proxy: nil,
				DialContext: (&net.Dialer{Timeout: time.Second}).DialContext,
			},
		}
	})
	return p.hc
}

// readSnapshot reads one agent's snapshot.
func readSnapshot(ctx context.Context, hc *http.Client, addr string) (podreport.Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/snapshot", nil)
	if err != nil {
		return podreport.Report{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return podreport.Report{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, podreport.MaxFullLen+1))
	if err != nil {
		return podreport.Report{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return podreport.Report{}, fmt.Errorf("%s: %s", resp.Status, firstLine(body))
	}
	snap, err := podreport.ParseFull(string(body))
	if err != nil {
		return podreport.Report{}, err
	}
	if !snap.Live {
		return podreport.Report{}, errors.New("not a live snapshot")
	}
	return snap, nil
}

// firstLine is the start of an error body, short enough for a message.
func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' || i == 120 {
			return string(b[:i])
		}
	}
	return string(b)
}

// observe gives one read's snapshots of f's run to its tracker, then patches lt's status:
// progress, the LiveProgress condition and, for a broken live threshold, stopping.
func (p *Poller) observe(ctx context.Context, lt *dilov1.LoadTest, f *followed, read map[string]readResult) {
	snaps := map[string]podreport.Report{}
	f.unreachable = ""
	for _, name := range f.pods {
		r, ok := read[name]
		switch {
		case !ok: // not running (an ended pod's last snapshot stands) or not probed
		case r.err != nil:
			if f.unreachable == "" {
				f.unreachable = fmt.Sprintf("cannot read the snapshot of pod %s: %v", name, r.err)
			}
		default:
			snaps[name] = r.snap
		}
	}
	f.probeOnly = len(snaps) == 0 && f.unreachable != ""
	p.mu.Lock() // the metrics read the tracker too
	if len(snaps) > 0 {
		if err := f.tracker.Observe(snaps); err != nil {
			log.FromContext(ctx).Info("Ignored a snapshot", "loadtest", f.key, "error", err.Error())
		}
		f.dirty = true
	}
	prog := f.tracker.Progress()
	var breach string
	if lt.Status.Stopping == nil && lt.Spec.Thresholds != nil {
		if msg, broken := live.CheckAbort(lt.Spec.Thresholds, f.tracker); broken {
			breach = msg
		}
	}
	p.mu.Unlock()
	base := lt.DeepCopy()
	st := &lt.Status
	if prog != nil {
		st.Progress = prog
	}
	cond := metav1.Condition{Type: dilov1.ConditionLiveProgress, Status: metav1.ConditionTrue, ObservedGeneration: lt.Generation,
		Reason: dilov1.ReasonReporting, Message: fmt.Sprintf("reading the snapshots of all %d pods", len(f.pods))}
	if f.unreachable != "" {
		cond.Status, cond.Reason = metav1.ConditionFalse, dilov1.ReasonPodsUnreachable
		cond.Message = f.unreachable + "; the run and its final results are not affected"
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	if breach != "" {
		st.Stopping = &dilov1.Stopping{Reason: dilov1.ReasonThresholdBroken, Message: breach, Time: metav1.Time{Time: p.now()}}
	}
	var err error
	if !equality.Semantic.DeepEqual(base.Status, lt.Status) {
		err = p.Client.Status().Patch(ctx, lt, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
		// The controller moved the run on since the cache was read: the next read tells.
	case err != nil:
		log.FromContext(ctx).Error(err, "Failed to patch live progress", "loadtest", f.key)
	default:
		if f.unreachable != "" && !f.warned && p.Recorder != nil {
			f.warned = true
			p.Recorder.Eventf(lt, nil, corev1.EventTypeWarning, "LiveProgressUnavailable", "ReadSnapshots",
				"Live progress of run %d is incomplete: %s", f.run, dilov1.Truncate(cond.Message, 900))
		}
	}
	every := p.TimelineEvery
	if every <= 0 {
		every = TimelineEvery
	}
	if f.dirty && p.now().Sub(f.savedAt) >= every {
		p.saveTimeline(ctx, lt.Namespace, lt.Name, lt.UID, f)
	}
}

// forgetEnded writes the timelines of the runs no longer executing and stops following
// them.
func (p *Poller) forgetEnded(ctx context.Context, seen map[types.NamespacedName]bool) {
	p.mu.Lock()
	var ended []*followed
	for key, f := range p.runs {
		if !seen[key] {
			ended = append(ended, f)
			delete(p.runs, key)
		}
	}
	p.mu.Unlock()
	for _, f := range ended {
		if f.dirty {
			p.saveTimeline(ctx, f.key.Namespace, f.key.Name, f.uid, f)
		}
	}
}

// saveTimeline writes f's timeline and checkpoint into the run's ConfigMap, owned by
// the LoadTest, by server-side apply (one request, whether it exists or not).
func (p *Poller) saveTimeline(ctx context.Context, namespace, name string, uid types.UID, f *followed) {
	p.mu.Lock()
	timeline, err := f.tracker.Timeline().Encode()
	var checkpoint []byte
	if err == nil {
		checkpoint, err = f.tracker.Checkpoint()
	}
	p.mu.Unlock()
	if err != nil {
		log.FromContext(ctx).Error(err, "Failed to encode a timeline", "loadtest", f.key)
		return
	}
	cm := corev1ac.ConfigMap(dilov1.TimelineName(name, f.run), namespace).
		WithLabels(dilov1.RunLabels(name, f.run)).
		WithOwnerReferences(metav1ac.OwnerReference().
			WithAPIVersion(dilov1.GroupVersion.String()).WithKind("LoadTest").
			WithName(name).WithUID(uid)).
		WithData(map[string]string{KeyTimeline: string(timeline), KeyCheckpoint: string(checkpoint)})
	if err := p.Client.Apply(ctx, cm, client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		log.FromContext(ctx).Error(err, "Failed to write a run's timeline", "loadtest", f.key, "run", f.run)
		return
	}
	f.savedAt, f.dirty = p.now(), false
}
