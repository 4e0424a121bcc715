package reconcile

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	dilov1 "github.com/dilo-operator/dilo/api/v1"
)

func TestDueTick(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var never time.Time
	tests := []struct {
		name     string
		schedule string
		timeZone *string
		last     time.Time
		created  string
		now      string
		deadline *int64
		wantTick time.Time
		wantDue  bool
		wantNext time.Time
	}{{
		name: "not yet due after creation", schedule: "*/5 * * * *",
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:04:59Z",
		wantNext: at("2026-06-01T10:05:00Z"),
	}, {
		name: "first tick after creation", schedule: "*/5 * * * *",
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:05:00Z",
		wantTick: at("2026-06-01T10:05:00Z"), wantDue: true, wantNext: at("2026-06-01T10:10:00Z"),
	}, {
		name: "the tick acted on last is not due again", schedule: "*/5 * * * *", last: at("2026-06-01T10:05:00Z"),
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:07:00Z",
		wantNext: at("2026-06-01T10:10:00Z"),
	}, {
		name: "missed ticks: only the most recent", schedule: "*/5 * * * *", last: at("2026-06-01T10:05:00Z"),
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:32:00Z",
		wantTick: at("2026-06-01T10:30:00Z"), wantDue: true, wantNext: at("2026-06-01T10:35:00Z"),
	}, {
		name: "missed tick past the deadline", schedule: "*/5 * * * *", last: at("2026-06-01T10:05:00Z"),
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:32:00Z", deadline: ptr.To[int64](60),
		wantTick: at("2026-06-01T10:30:00Z"), wantNext: at("2026-06-01T10:35:00Z"),
	}, {
		name: "missed tick within the deadline", schedule: "*/5 * * * *", last: at("2026-06-01T10:05:00Z"),
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:32:00Z", deadline: ptr.To[int64](120),
		wantTick: at("2026-06-01T10:30:00Z"), wantDue: true, wantNext: at("2026-06-01T10:35:00Z"),
	}, {
		name: "deadline 0: due at the tick's instant only", schedule: "*/5 * * * *",
		created: "2026-06-01T10:00:30Z", now: "2026-06-01T10:05:00Z", deadline: ptr.To[int64](0),
		wantTick: at("2026-06-01T10:05:00Z"), wantDue: true, wantNext: at("2026-06-01T10:10:00Z"),
	}, {
		name: "every: ticks follow the creation", schedule: "@every 3s",
		created: "2026-06-01T10:00:00Z", now: "2026-06-01T10:00:07Z",
		wantTick: at("2026-06-01T10:00:06Z"), wantDue: true, wantNext: at("2026-06-01T10:00:09Z"),
	}, {
		name: "every: ticks follow the last one", schedule: "@every 3s", last: at("2026-06-01T10:00:05Z"),
		created: "2026-06-01T10:00:00Z", now: "2026-06-01T10:00:07Z",
		wantNext: at("2026-06-01T10:00:08Z"),
	}, {
		name: "a month of missed ticks is not walked one by one", schedule: "@every 1s",
		created: "2026-06-01T00:00:00Z", now: "2026-07-01T00:00:00Z",
		wantTick: at("2026-07-01T00:00:00Z"), wantDue: true, wantNext: at("2026-07-01T00:00:01Z"),
	}, {
		name: "UTC by default", schedule: "0 2 * * *",
		created: "2026-06-01T23:00:00Z", now: "2026-06-02T00:30:00Z",
		wantNext: at("2026-06-02T02:00:00Z"),
	}, {
		name: "in Europe/Paris (UTC+2 in summer)", schedule: "0 2 * * *", timeZone: ptr.To("Europe/Paris"),
		created: "2026-06-01T23:00:00Z", now: "2026-06-02T00:30:00Z",
		wantTick: at("2026-06-02T00:00:00Z"), wantDue: true, wantNext: at("2026-06-03T00:00:00Z"),
	}, {
		name: "in Europe/Paris (UTC+1 in winter)", schedule: "@daily", timeZone: ptr.To("Europe/Paris"),
		created: "2026-12-01T12:00:00Z", now: "2026-12-01T22:00:00Z",
		wantNext: at("2026-12-01T23:00:00Z"),
	}, {
		name: "a schedule with no tick", schedule: "0 0 30 2 *",
		created: "2026-06-01T10:00:00Z", now: "2026-06-01T10:00:00Z",
		wantNext: never,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, err := dilov1.ParseSchedule(&dilov1.LoadTestSpec{Schedule: tt.schedule, TimeZone: tt.timeZone})
			if err != nil {
				t.Fatal(err)
			}
			tick, due, next := dueTick(sched, tt.last, at(tt.created), at(tt.now), tt.deadline)
			if !tick.Equal(tt.wantTick) || due != tt.wantDue || !next.Equal(tt.wantNext) {
				t.Errorf("dueTick() = %v, %t, %v; want %v, %t, %v", tick, due, next, tt.wantTick, tt.wantDue, tt.wantNext)
			}
		})
	}
}

func TestScheduleTick(t *testing.T) {
	created := time.Date(2026, 6, 1, 10, 0, 30, 0, time.UTC)
	now := time.Date(2026, 6, 1, 10, 5, 2, 0, time.UTC)
	mt := func(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }
	tests := []struct {
		name      string
		spec      dilov1.LoadTestSpec
		last      *metav1.Time
		wantTick  time.Time
		wantNext  *metav1.Time
		wantUntil time.Duration
		wantErr   string
	}{{
		name: "no schedule",
	}, {
		name:     "due",
		spec:     dilov1.LoadTestSpec{Schedule: "*/5 * * * *"},
		wantTick: created.Add(4*time.Minute + 30*time.Second), wantNext: mt(created.Add(9*time.Minute + 30*time.Second)),
		wantUntil: 4*time.Minute + 58*time.Second,
	}, {
		name:     "acted on already",
		spec:     dilov1.LoadTestSpec{Schedule: "*/5 * * * *"},
		last:     mt(created.Add(4*time.Minute + 30*time.Second)),
		wantNext: mt(created.Add(9*time.Minute + 30*time.Second)), wantUntil: 4*time.Minute + 58*time.Second,
	}, {
		name: "suspended",
		spec: dilov1.LoadTestSpec{Schedule: "*/5 * * * *", Suspend: ptr.To(true)},
	}, {
		name:    "unreadable",
		spec:    dilov1.LoadTestSpec{Schedule: "every day"},
		wantErr: `spec.schedule "every day": expected exactly 5 fields, found 2: [every day]`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := &dilov1.LoadTest{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.Time{Time: created}},
				Spec:       tt.spec,
				// A stale nextScheduleTime is always computed again.
				Status: dilov1.LoadTestStatus{LastScheduleTime: tt.last, NextScheduleTime: mt(created)},
			}
			s := &runScope{lt: lt, now: now}
			scheduleTick(s)
			var gotErr string
			if s.scheduleErr != nil {
				gotErr = s.scheduleErr.Error()
			}
			if !s.tick.Equal(tt.wantTick) || s.untilTick != tt.wantUntil || gotErr != tt.wantErr {
				t.Errorf("scheduleTick() tick %v, until %v, error %q; want %v, %v, %q", s.tick, s.untilTick, gotErr, tt.wantTick, tt.wantUntil, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantNext, lt.Status.NextScheduleTime); diff != "" {
				t.Errorf("status.nextScheduleTime (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideStart(t *testing.T) {
	type want struct {
		act                  startAction
		tickRun, tickSkipped bool
	}
	const (
		scheduled, pending, executing, finished = dilov1.StateScheduled, dilov1.StatePending, dilov1.StateExecuting, dilov1.StateFinished
	)
	tests := []struct {
		name string
		in   startInput
		want want
	}{
		{"new, no schedule: runs at once", startInput{}, want{act: startNew}},
		{"new, a schedule: waits for its first tick", startInput{Scheduled: true}, want{act: waitTick}},
		{"new, a tick already due: runs it", startInput{Scheduled: true, Tick: true}, want{startNew, true, false}},
		{"scheduled, not yet due", startInput{State: scheduled, Scheduled: true}, want{act: keepRun}},
		{"scheduled, the first tick", startInput{State: scheduled, Scheduled: true, Tick: true}, want{startNew, true, false}},
		{"scheduled, edited: runs at once", startInput{State: scheduled, Scheduled: true, SpecChanged: true}, want{act: startNew}},
		{"scheduled, rerun: runs at once", startInput{State: scheduled, Scheduled: true, Rerun: true}, want{act: startNew}},
		{"scheduled, schedule removed: runs", startInput{State: scheduled}, want{act: startNew}},
		{"finished, a tick", startInput{State: finished, Run: 1, Scheduled: true, Tick: true}, want{startNew, true, false}},
		{"finished, no tick", startInput{State: finished, Run: 1, Scheduled: true}, want{act: keepRun}},
		{"executing, a tick, Forbid: skipped", startInput{State: executing, Run: 1, Scheduled: true, Tick: true}, want{keepRun, false, true}},
		{"pending, a tick, Forbid: skipped", startInput{State: pending, Run: 1, Scheduled: true, Tick: true}, want{keepRun, false, true}},
		{"executing, a tick, Replace: replaced", startInput{State: executing, Run: 1, Scheduled: true, Tick: true, Replace: true}, want{startNew, true, false}},
		{"executing, edited with a tick due: the edit's run", startInput{State: executing, Run: 1, Scheduled: true, Tick: true, SpecChanged: true}, want{act: startNew}},
		{"executing, rerun with a tick due: the rerun's run", startInput{State: executing, Run: 1, Scheduled: true, Tick: true, Rerun: true}, want{act: startNew}},
		{"executing, no tick", startInput{State: executing, Run: 1, Scheduled: true}, want{act: keepRun}},
		{"executing, edited, no schedule", startInput{State: executing, Run: 1, SpecChanged: true}, want{act: startNew}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got want
			got.act, got.tickRun, got.tickSkipped = decideStart(tt.in)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("decideStart(%+v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSoonest(t *testing.T) {
	tests := []struct {
		a, b, want time.Duration
	}{
		{0, 0, 0},
		{time.Second, 0, time.Second},
		{0, time.Second, time.Second},
		{time.Minute, time.Second, time.Second},
		{time.Second, time.Minute, time.Second},
	}
	for _, tt := range tests {
		if got := soonest(tt.a, tt.b); got != tt.want {
			t.Errorf("soonest(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
