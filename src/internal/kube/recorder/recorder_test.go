package recorder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fakeSink keeps events by name, as the API server would, and fails the
// first calls with errs.
type fakeSink struct {
	mu      sync.Mutex
	events  map[string]*corev1.Event
	calls   []string // "create <reason>" / "patch <name> <count>"
	errs    []error  // returned by the next calls, in order
	expired bool     // patches find no event (it expired on the server)
}

func newSink(errs ...error) *fakeSink {
	return &fakeSink{events: map[string]*corev1.Event{}, errs: errs}
}

func (s *fakeSink) nextErr() error {
	if len(s.errs) == 0 {
		return nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return err
}

func (s *fakeSink) Create(e *corev1.Event) (*corev1.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "create "+e.Reason)
	if err := s.nextErr(); err != nil {
		return nil, err
	}
	out := e.DeepCopy()
	s.events[e.Name] = out
	return out.DeepCopy(), nil
}

func (s *fakeSink) Patch(e *corev1.Event, data []byte) (*corev1.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p struct {
		Count         int32       `json:"count"`
		LastTimestamp metav1.Time `json:"lastTimestamp"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	s.calls = append(s.calls, fmt.Sprintf("patch %s %d", e.Reason, p.Count))
	if err := s.nextErr(); err != nil {
		return nil, err
	}
	cur, ok := s.events[e.Name]
	if !ok || s.expired {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "events"}, e.Name)
	}
	cur.Count, cur.LastTimestamp = p.Count, p.LastTimestamp
	return cur.DeepCopy(), nil
}

func (s *fakeSink) snapshot() ([]string, []*corev1.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var evs []*corev1.Event
	for _, e := range s.events {
		evs = append(evs, e.DeepCopy())
	}
	return append([]string(nil), s.calls...), evs
}

var pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", ResourceVersion: "7"}}

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// run sends what send queues, until the queue is drained.
func run(t *testing.T, r *Recorder, send func()) {
	t.Helper()
	send()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Run drains what is queued, then returns
	r.Run(ctx)
}

func TestSend(t *testing.T) {
	transport := errors.New("connection refused")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no"))
	tests := []struct {
		name      string
		errs      []error
		expired   bool
		window    time.Duration
		step      time.Duration // clock advance between events
		events    [][2]string   // reason, message
		wantCalls string
		wantCount map[string]int32 // reason -> count on the server
	}{
		{name: "one event", events: [][2]string{{"AddedInterface", "Add eth0"}},
			wantCalls: "create AddedInterface", wantCount: map[string]int32{"AddedInterface": 1}},
		{name: "the same event again is counted", events: [][2]string{{"AddFailed", "boom"}, {"AddFailed", "boom"}, {"AddFailed", "boom"}},
			step:      time.Second,
			wantCalls: "create AddFailed,patch AddFailed 2,patch AddFailed 3", wantCount: map[string]int32{"AddFailed": 3}},
		{name: "another message is another event", events: [][2]string{{"AddedInterface", "Add eth0"}, {"AddedInterface", "Add net1"}},
			step:      time.Second,
			wantCalls: "create AddedInterface,create AddedInterface"},
		{name: "after the window the same event is new", window: time.Minute, step: 2 * time.Minute,
			events:    [][2]string{{"AddFailed", "boom"}, {"AddFailed", "boom"}},
			wantCalls: "create AddFailed,create AddFailed"},
		{name: "an event expired on the server is created again", expired: true, step: time.Second,
			events:    [][2]string{{"AddFailed", "boom"}, {"AddFailed", "boom"}},
			wantCalls: "create AddFailed,patch AddFailed 2,create AddFailed"},
		{name: "transport errors are retried", errs: []error{transport, transport},
			events:    [][2]string{{"AddedInterface", "Add eth0"}},
			wantCalls: "create AddedInterface,create AddedInterface,create AddedInterface", wantCount: map[string]int32{"AddedInterface": 1}},
		{name: "retries are bounded", errs: []error{transport, transport, transport, transport},
			events:    [][2]string{{"AddedInterface", "Add eth0"}},
			wantCalls: "create AddedInterface,create AddedInterface,create AddedInterface"},
		{name: "a refusal is not retried", errs: []error{forbidden},
			events:    [][2]string{{"AddedInterface", "Add eth0"}, {"AddFailed", "boom"}},
			wantCalls: "create AddedInterface,create AddFailed", wantCount: map[string]int32{"AddFailed": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newSink(tc.errs...)
			sink.expired = tc.expired
			clk := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
			r := New(Options{Sink: sink, Component: "multus", Attempts: 3, RetryDelay: time.Millisecond,
				DedupWindow: tc.window, Now: clk.now})
			run(t, r, func() {
				for _, e := range tc.events {
					r.Event(pod, corev1.EventTypeWarning, e[0], e[1])
					clk.t = clk.t.Add(tc.step)
				}
			})
			calls, evs := sink.snapshot()
			if got := strings.Join(calls, ","); got != tc.wantCalls {
				t.Errorf("calls\n got  %s\n want %s", got, tc.wantCalls)
			}
			for reason, n := range tc.wantCount {
				var found bool
				for _, e := range evs {
					if e.Reason == reason {
						found = true
						if e.Count != n {
							t.Errorf("%s count = %d, want %d", reason, e.Count, n)
						}
					}
				}
				if !found {
					t.Errorf("no %s event on the server", reason)
				}
			}
		})
	}
}

// TestEventFields: what kubectl shows is what client-go's recorder wrote.
func TestEventFields(t *testing.T) {
	sink := newSink()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	r := New(Options{Sink: sink, Component: "multus", Now: func() time.Time { return at }})
	run(t, r, func() {
		r.Event(pod, corev1.EventTypeNormal, "AddedInterface", "Add net1 [10.0.0.5/24] from ns/macvlan")
	})
	_, evs := sink.snapshot()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	e := evs[0]
	want := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "ns", Name: "p", UID: "u1", ResourceVersion: "7"}
	if e.InvolvedObject != want {
		t.Errorf("involvedObject = %+v, want %+v", e.InvolvedObject, want)
	}
	if e.Namespace != "ns" || !strings.HasPrefix(e.Name, "p.") || e.Type != corev1.EventTypeNormal ||
		e.Reason != "AddedInterface" || e.Message != "Add net1 [10.0.0.5/24] from ns/macvlan" ||
		e.Source.Component != "multus" || e.Count != 1 || !e.FirstTimestamp.Time.Equal(at) || !e.LastTimestamp.Time.Equal(at) {
		t.Errorf("event = %+v", e)
	}
}

// TestManyEventsOfOnePod: a pod with many networks gets all its events
// (client-go's spam filter stopped at 25 per object).
func TestManyEventsOfOnePod(t *testing.T) {
	sink := newSink()
	r := New(Options{Sink: sink, Component: "multus"})
	run(t, r, func() {
		for i := range 40 {
			r.Event(pod, corev1.EventTypeNormal, "AddedInterface", fmt.Sprintf("Add net%d", i+1))
		}
	})
	if calls, _ := sink.snapshot(); len(calls) != 40 {
		t.Errorf("%d events written, want 40", len(calls))
	}
}

// TestFullQueueDrops: Event never blocks the ADD; what does not fit is
// dropped and logged with its count.
func TestFullQueueDrops(t *testing.T) {
	sink := newSink()
	var logs bytes.Buffer
	r := New(Options{Sink: sink, Component: "multus", Queue: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5 {
			r.Event(pod, corev1.EventTypeNormal, "AddedInterface", fmt.Sprintf("Add net%d", i))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Event blocked on a full queue")
	}
	run(t, r, func() {})
	if calls, _ := sink.snapshot(); len(calls) != 2 {
		t.Errorf("%d events written, want the 2 queued", len(calls))
	}
	if !strings.Contains(logs.String(), "count=3") {
		t.Errorf("log does not count the 3 dropped events:\n%s", logs.String())
	}
}

// TestNilPod: no pod, no event (a failure before the pod was read).
func TestNilPod(t *testing.T) {
	sink := newSink()
	r := New(Options{Sink: sink})
	run(t, r, func() { r.Event(nil, corev1.EventTypeWarning, "AddFailed", "x") })
	if calls, _ := sink.snapshot(); len(calls) != 0 {
		t.Errorf("calls %v, want none", calls)
	}
}
