package release

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/attach"
	"github.com/multus-thick/multus-thick/src/internal/testutil"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type fakeBackend struct {
	mu       sync.Mutex
	sbs      []attach.Sandbox
	outcome  map[string]attach.RetryOutcome
	retried  []string
	released []string
	running  int
	peak     int
	gone     map[string]bool
}

func (b *fakeBackend) Sandboxes() ([]attach.Sandbox, error) { return b.sbs, nil }

func (b *fakeBackend) RetryDelete(_ context.Context, _ *slog.Logger, id string, _ time.Duration) (attach.RetryOutcome, error) {
	b.mu.Lock()
	b.running++
	b.peak = max(b.peak, b.running)
	b.retried = append(b.retried, id)
	out := b.outcome[id]
	b.mu.Unlock()
	time.Sleep(time.Millisecond) // overlap the calls, to see the bound
	b.mu.Lock()
	b.running--
	b.mu.Unlock()
	if out == attach.RetryFailed {
		return out, errors.New("still failing")
	}
	return out, nil
}

func (b *fakeBackend) ReleaseOrphan(ctx context.Context, _ *slog.Logger, id string, gone func(context.Context, attach.Sandbox) bool) (bool, error) {
	for _, sb := range b.sbs {
		if sb.ContainerID == id && gone(ctx, sb) {
			b.released = append(b.released, id)
			return true, nil
		}
	}
	return false, nil
}

type fakeMetrics struct {
	mu      sync.Mutex
	pending []int
	retried []string
	orphans int
}

func (m *fakeMetrics) PendingDeletes(n int) {
	m.mu.Lock()
	m.pending = append(m.pending, n)
	m.mu.Unlock()
}
func (m *fakeMetrics) DeleteRetried(o string) {
	m.mu.Lock()
	m.retried = append(m.retried, o)
	m.mu.Unlock()
}
func (m *fakeMetrics) OrphanReleased() { m.orphans++ }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestBackoff(t *testing.T) {
	r := NewRetrier(Options{BaseBackoff: time.Second, MaxBackoff: 10 * time.Second})
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, r.Backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
}

func TestPass(t *testing.T) {
	pending := func(id string, attempts int, last time.Duration) attach.Sandbox {
		return attach.Sandbox{ContainerID: id, Pending: true, Attempts: attempts, Since: t0.Add(-20 * time.Second), LastAttempt: t0.Add(-last)}
	}
	old := pending("old", 9, 0)
	old.Since = t0.Add(-time.Minute)
	b := &fakeBackend{
		sbs: []attach.Sandbox{
			pending("due1", 1, 2*time.Second),  // 1 s backoff, 2 s ago: due
			pending("due2", 3, 5*time.Second),  // 4 s backoff, 5 s ago: due
			pending("later", 3, 1*time.Second), // due in 3 s
			old,                                // first failure 1 m ago > give-up age: due now
			{ContainerID: "fine"},              // nothing pending
			{ContainerID: "given-up", GaveUp: true},
			pending("due3", 1, 10*time.Second),
			pending("due4", 1, 10*time.Second),
			pending("due5", 1, 10*time.Second),
		},
		outcome: map[string]attach.RetryOutcome{"due1": attach.RetryReleased, "due2": attach.RetryFailed, "old": attach.RetryGaveUp,
			"due3": attach.RetryReleased, "due4": attach.RetryReleased, "due5": attach.RetryReleased},
	}
	m := &fakeMetrics{}
	r := NewRetrier(Options{Backend: b, Metrics: m, Logger: discard(), BaseBackoff: time.Second, MaxBackoff: time.Minute,
		GiveUpAfter: 30 * time.Second, Concurrency: 2, Now: func() time.Time { return t0 }})
	next := r.Pass(context.Background())
	sort.Strings(b.retried)
	if want := []string{"due1", "due2", "due3", "due4", "due5", "old"}; !reflect.DeepEqual(b.retried, want) {
		t.Errorf("retried %q, want %q", b.retried, want)
	}
	if b.peak > 2 {
		t.Errorf("%d retries at once, bound 2", b.peak)
	}
	// "later" is due in 3 s; due2 failed its 4th attempt: 8 s.
	if next != 3*time.Second {
		t.Errorf("next pass in %v, want 3s", next)
	}
	// 7 pending before; 5 released or given up after.
	if !reflect.DeepEqual(m.pending, []int{7, 2}) {
		t.Errorf("pending gauge = %v", m.pending)
	}
	sort.Strings(m.retried)
	if want := []string{"failed", "gave-up", "released", "released", "released", "released"}; !reflect.DeepEqual(m.retried, want) {
		t.Errorf("retry counter = %q", m.retried)
	}
}

func TestRunRetriesAtStartupAndOnKick(t *testing.T) {
	b := &fakeBackend{sbs: []attach.Sandbox{{ContainerID: "c1", Pending: true, Attempts: 1, Since: t0, LastAttempt: t0}},
		outcome: map[string]attach.RetryOutcome{"c1": attach.RetryReleased}}
	clock := t0.Add(time.Hour)
	r := NewRetrier(Options{Backend: b, Logger: discard(), MaxBackoff: time.Hour, Now: func() time.Time { return clock }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	testutil.Eventually(t, "retry 1", 10*time.Second, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.retried) == 1 })
	r.Kick("c1") // a new failure: a pass runs now, not in an hour
	testutil.Eventually(t, "retry 2", 10*time.Second, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.retried) == 2 })
	cancel()
	<-done
}

type fakePods struct{ live map[string]bool }

func (p fakePods) GetPod(_ context.Context, ref attach.PodRef, _ attach.Op) (*corev1.Pod, error) {
	if p.live[ref.UID] {
		return &corev1.Pod{}, nil
	}
	return nil, attach.ErrPodNotFound
}

func TestReconcilePass(t *testing.T) {
	sb := func(id, uid, netns string) attach.Sandbox {
		return attach.Sandbox{ContainerID: id, Pod: attach.PodRef{Namespace: "ns", Name: "p-" + id, UID: uid}, Netns: netns}
	}
	b := &fakeBackend{sbs: []attach.Sandbox{
		sb("gone1", "u1", "/netns/gone1"),
		sb("live-pod", "u2", "/netns/gone2"),     // pod still there (e.g. restarting)
		sb("live-netns", "u3", "/netns/present"), // netns still there
		sb("upstream", "", ""),                   // upstream record: no pod UID, no netns
		sb("gone2", "u4", "/netns/gone4"),
		sb("gone3", "u5", "/netns/gone5"),
	}}
	m := &fakeMetrics{}
	r := NewReconciler(ReconcileOptions{Backend: b, Pods: fakePods{live: map[string]bool{"u2": true}}, Metrics: m, Logger: discard(),
		MaxPerPass: 2, NetnsExists: func(p string) bool { return p == "/netns/present" }})
	if n := r.Pass(context.Background()); n != 2 {
		t.Errorf("released %d, want the bound 2", n)
	}
	if n := r.Pass(context.Background()); n != 2 { // gone1 and gone2 are still listed by the fake
		t.Errorf("second pass released %d", n)
	}
	if want := []string{"gone1", "gone2", "gone1", "gone2"}; !reflect.DeepEqual(b.released, want) || m.orphans != 4 {
		t.Errorf("released %q (metric %d)", b.released, m.orphans)
	}
}

func TestReconcileWithoutKubernetes(t *testing.T) {
	b := &fakeBackend{sbs: []attach.Sandbox{
		{ContainerID: "gone", Netns: "/run/netns/gone"},
		{ContainerID: "present", Netns: "/run/netns/present"},
		{ContainerID: "unseen", Netns: "/hidden/netns/x"}, // the daemon cannot see that directory
		{ContainerID: "no-netns"},
	}}
	seen := map[string]bool{"/run/netns": true, "/run/netns/present": true}
	r := NewReconciler(ReconcileOptions{Backend: b, Logger: discard(), NetnsExists: func(p string) bool { return seen[p] }})
	if n := r.Pass(context.Background()); n != 1 || !reflect.DeepEqual(b.released, []string{"gone"}) {
		t.Errorf("released %d: %q", n, b.released)
	}
}
