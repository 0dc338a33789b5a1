package attach

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	cnitypes "github.com/containernetworking/cni/pkg/types"
	corev1 "k8s.io/api/core/v1"
)

// warnEvents is fakeEvents plus the Kubernetes events' Warning.
type warnEvents struct {
	fakeEvents
	mu       sync.Mutex
	warnings []string
}

func (w *warnEvents) Warning(_ *corev1.Pod, reason, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, reason+": "+msg)
}

func TestRetryDelete(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1, net2)
	ev := &warnEvents{}
	e.a.opts.Events = ev
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.a.opts.Now = func() time.Time { return clock }
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
	_ = e.a.Del(context.Background(), e.req("DEL", "c1"))

	// Still failing: counted, kept, a Warning on the pod.
	e.exec.reset()
	clock = clock.Add(time.Second)
	out, err := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour)
	if out != RetryFailed || err == nil {
		t.Fatalf("retry = %v, %v", out, err)
	}
	if got := e.exec.callStrings(); !reflect.DeepEqual(got, []string{"DEL net-a net1"}) {
		t.Errorf("retry calls = %q", got)
	}
	ds := e.record("c1")
	if f := ds[1].DelFailure; f.Attempts != 2 || !f.LastAttempt.Equal(clock) || !f.Since.Equal(clock.Add(-time.Second)) {
		t.Errorf("mark = %+v", f)
	}
	if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonDeleteFailed) {
		t.Errorf("warnings = %q", ev.warnings)
	}
	// The retry runs from the record alone: netns, CNI_ARGS of the ADD.
	call, _ := e.exec.find("DEL", "net-a")
	if call.Netns != "/var/run/netns/c1" || !strings.Contains(call.Args, "K8S_POD_UID=uid-1") || call.Path != "/fake/bin/macvlan" {
		t.Errorf("retry call %+v", call)
	}

	// Succeeds: the record goes.
	delete(e.exec.fail, "DEL net-a")
	if out, err := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour); out != RetryReleased || err != nil {
		t.Fatalf("retry = %v, %v", out, err)
	}
	if e.hasRecord("c1") {
		t.Error("record kept after the retry released everything")
	}
	if out, _ := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour); out != RetryNothing {
		t.Errorf("retry without a record = %v", out)
	}
}

func TestRetryDeleteGivesUp(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet)
	ev := &warnEvents{}
	e.a.opts.Events = ev
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.a.opts.Now = func() time.Time { return clock }
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.fail["DEL cluster"] = cnitypes.NewError(11, "bridge busy", "")
	_ = e.a.Del(context.Background(), e.req("DEL", "c1"))
	clock = clock.Add(2 * time.Hour)
	e.exec.reset()
	if out, err := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour); out != RetryGaveUp || err != nil {
		t.Fatalf("retry = %v, %v", out, err)
	}
	if got := e.exec.callStrings(); len(got) != 0 {
		t.Errorf("calls after the give-up age = %q", got)
	}
	ds := e.record("c1")
	if !ds[0].DelFailure.GaveUp || ds[0].Pending() {
		t.Errorf("mark = %+v", ds[0].DelFailure)
	}
	if len(ev.warnings) != 1 || !strings.HasPrefix(ev.warnings[0], ReasonDeleteGaveUp) || !strings.Contains(ev.warnings[0], "bridge busy") {
		t.Errorf("warnings = %q", ev.warnings)
	}
	if sbs, _ := e.a.Sandboxes(); len(sbs) != 1 || sbs[0].Pending || !sbs[0].GaveUp {
		t.Errorf("sandboxes = %+v", sbs)
	}
	// Given up is final for the retrier, but a DEL from the runtime still
	// runs it (the record is what an operator or the runtime can act on).
	delete(e.exec.fail, "DEL cluster")
	if err := e.a.Del(context.Background(), e.req("DEL", "c1")); err != nil || e.hasRecord("c1") {
		t.Errorf("runtime DEL of a given-up record: %v, record kept %v", err, e.hasRecord("c1"))
	}
}

func TestReleaseOrphan(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1)
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.reset()
	notGone := func(context.Context, Sandbox) bool { return false }
	gone := func(_ context.Context, sb Sandbox) bool {
		return sb.Pod.UID == "uid-1" && sb.Netns == "/var/run/netns/c1"
	}

	if ok, err := e.a.ReleaseOrphan(context.Background(), discardLogger(), "c1", notGone); ok || err != nil {
		t.Fatalf("pod still there: released %v, %v", ok, err)
	}
	// A request in flight on the container: left alone, without waiting.
	unlock, err := e.a.lock(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.a.ReleaseOrphan(context.Background(), discardLogger(), "c1", gone); ok || err != nil {
		t.Fatalf("in flight: released %v, %v", ok, err)
	}
	unlock()
	if got := e.exec.callStrings(); len(got) != 0 {
		t.Fatalf("calls = %q", got)
	}
	if ok, err := e.a.ReleaseOrphan(context.Background(), discardLogger(), "c1", gone); !ok || err != nil {
		t.Fatalf("released %v, %v", ok, err)
	}
	if got := e.exec.callStrings(); !reflect.DeepEqual(got, []string{"DEL net-a net1", "DEL cluster eth0"}) {
		t.Errorf("calls = %q", got)
	}
	if e.hasRecord("c1") || e.a.locks.size() != 0 {
		t.Errorf("record kept %v, locks %d", e.hasRecord("c1"), e.a.locks.size())
	}
}

func TestTryLock(t *testing.T) {
	var k keyedMutex
	unlock, ok := k.tryLock("a")
	if !ok {
		t.Fatal("free key not taken")
	}
	if _, ok := k.tryLock("a"); ok {
		t.Fatal("held key taken twice")
	}
	unlock()
	for i := 0; i < 100; i++ { // never a spurious miss on a free key
		u, ok := k.tryLock("a")
		if !ok {
			t.Fatalf("free key missed at %d", i)
		}
		u()
	}
	if k.size() != 0 {
		t.Errorf("size = %d", k.size())
	}
}

// The pod is deleted from the API while its DEL is pending: the retry
// goes on from the record (no pod needed), and no event is attempted.
func TestRetryDeleteAfterThePodIsGone(t *testing.T) {
	e := newEnv(t, "1.0.0", clusterNet, net1)
	ev := &warnEvents{}
	e.a.opts.Events = ev
	if _, err := e.a.Add(context.Background(), e.req("ADD", "c1")); err != nil {
		t.Fatal(err)
	}
	e.exec.fail["DEL net-a"] = cnitypes.NewError(11, "ipam busy", "")
	_ = e.a.Del(context.Background(), e.req("DEL", "c1"))
	e.pods.pod, e.pods.err = nil, ErrPodNotFound
	if out, _ := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour); out != RetryFailed {
		t.Fatalf("retry = %v", out)
	}
	if len(ev.warnings) != 0 {
		t.Errorf("event on a deleted pod: %q", ev.warnings)
	}
	delete(e.exec.fail, "DEL net-a")
	if out, err := e.a.RetryDelete(context.Background(), discardLogger(), "c1", time.Hour); out != RetryReleased || err != nil || e.hasRecord("c1") {
		t.Fatalf("retry = %v, %v; record kept %v", out, err, e.hasRecord("c1"))
	}
}
