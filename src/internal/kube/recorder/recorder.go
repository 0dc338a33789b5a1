// Package recorder sends the daemon's pod events to the API server from
// one goroutine, off the ADD path: Event only queues.
//
// It replaces client-go's tools/record for the few events the daemon
// sends (AddedInterface, AddFailed, resolution warnings). That package
// aggregates with strategic merge patches, which link the OpenAPI
// machinery (kube-openapi, gnostic, a YAML parser) into the binary, and
// its spam filter drops a pod's events past 25, which a pod with many
// networks reaches in one ADD. What users see stays: the same reason,
// message, type, source and involved object, and an event repeated word
// for word is counted (count, lastTimestamp) instead of created again, so
// `kubectl describe` shows "x3 over 2m" as before.
package recorder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults for zero Options fields.
const (
	// DefaultQueue is how many events may wait; more are dropped (and
	// counted in the log), as client-go's broadcaster drops past 1000.
	DefaultQueue = 1000
	// DefaultAttempts bounds the writes of one event when the API is
	// unreachable; a refusal by the server is not retried.
	DefaultAttempts = 4
	// DefaultRetryDelay is the first pause between attempts; it doubles.
	DefaultRetryDelay = 500 * time.Millisecond
	// DefaultDedupWindow is how long a sent event is remembered, so that
	// the same event again is counted on it.
	DefaultDedupWindow = 10 * time.Minute
	// DefaultDrainTimeout bounds the sending of queued events once the
	// context ends (a daemon shutting down still reports its last ADDs).
	DefaultDrainTimeout = 2 * time.Second
	// maxRemembered bounds the dedup memory (oldest forgotten first).
	maxRemembered = 4096
)

// Sink writes events; kubeapi's event sink (and client-go's) is one. The
// patch is a JSON merge of count and lastTimestamp.
type Sink interface {
	Create(event *corev1.Event) (*corev1.Event, error)
	Patch(event *corev1.Event, data []byte) (*corev1.Event, error)
}

// Options configures a Recorder; zero fields take the defaults.
type Options struct {
	Sink Sink
	// Component is the event source (upstream's "multus").
	Component   string
	Queue       int
	Attempts    int
	RetryDelay  time.Duration
	DedupWindow time.Duration
	Logger      *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Recorder queues events and sends them from Run.
type Recorder struct {
	opts    Options
	queue   chan *corev1.Event
	dropped atomic.Int64

	// seen and order are touched by Run's goroutine only.
	seen  map[string]*sent
	order []string // seen's keys, oldest first
}

// sent is an event as the server returned it (name, count so far), and
// when it was last written.
type sent struct {
	event *corev1.Event
	at    time.Time
}

// New returns a Recorder; events queue until Run starts.
func New(opts Options) *Recorder {
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = DefaultRetryDelay
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = DefaultDedupWindow
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Recorder{opts: opts, queue: make(chan *corev1.Event, opts.Queue), seen: map[string]*sent{}}
}

// Event queues an event about pod; it never blocks. A full queue drops
// the event.
func (r *Recorder) Event(pod *corev1.Pod, eventType, reason, message string) {
	if pod == nil {
		return
	}
	now := metav1.NewTime(r.opts.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			// client-go's naming: the object's name and the time in hex.
			Name:      pod.Name + "." + strconv.FormatInt(now.UnixNano(), 16),
			Namespace: pod.Namespace,
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1",
			Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		},
		Reason:              reason,
		Message:             message,
		Type:                eventType,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Source:              corev1.EventSource{Component: r.opts.Component},
		ReportingController: r.opts.Component,
	}
	select {
	case r.queue <- ev:
	default:
		r.dropped.Add(1)
	}
}

// Run sends queued events until ctx ends, then what is still queued for
// up to DefaultDrainTimeout.
func (r *Recorder) Run(ctx context.Context) {
	for {
		if ctx.Err() != nil {
			r.drain()
			return
		}
		select {
		case ev := <-r.queue:
			r.send(ctx, ev)
		case <-ctx.Done():
			r.drain()
			return
		}
	}
}

func (r *Recorder) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultDrainTimeout)
	defer cancel()
	for {
		select {
		case ev := <-r.queue:
			r.send(ctx, ev)
		default:
			r.reportDropped()
			return
		}
	}
}

// send writes one event: a count on the same event sent before, else a
// new one; transport errors are retried, refusals are not.
func (r *Recorder) send(ctx context.Context, ev *corev1.Event) {
	r.reportDropped()
	key := dedupKey(ev)
	prev := r.remembered(key, ev.LastTimestamp.Time)
	delay := r.opts.RetryDelay
	for attempt := 1; ; attempt++ {
		out, err := r.write(prev, ev)
		if err == nil {
			r.remember(key, out, ev.LastTimestamp.Time)
			return
		}
		var status apierrors.APIStatus
		if errors.As(err, &status) || attempt >= r.opts.Attempts || ctx.Err() != nil {
			r.opts.Logger.Warn("event not written", "pod", ev.Namespace+"/"+ev.InvolvedObject.Name,
				"reason", ev.Reason, "attempts", attempt, "err", err)
			return
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
	}
}

// write counts ev on prev when there is one (and creates ev when prev
// has expired on the server), else creates ev.
func (r *Recorder) write(prev *corev1.Event, ev *corev1.Event) (*corev1.Event, error) {
	if prev != nil {
		patch, err := json.Marshal(map[string]any{"count": prev.Count + 1, "lastTimestamp": ev.LastTimestamp})
		if err != nil {
			return nil, fmt.Errorf("event patch: %w", err)
		}
		out, err := r.opts.Sink.Patch(prev, patch)
		if !apierrors.IsNotFound(err) {
			return out, err
		}
	}
	return r.opts.Sink.Create(ev)
}

// reportDropped logs how many events a full queue dropped since the last
// report.
func (r *Recorder) reportDropped() {
	if n := r.dropped.Swap(0); n > 0 {
		r.opts.Logger.Warn("events dropped: the queue was full", "count", n)
	}
}

func dedupKey(ev *corev1.Event) string {
	o := ev.InvolvedObject
	return string(o.UID) + "\x00" + o.Namespace + "\x00" + o.Name + "\x00" + ev.Type + "\x00" + ev.Reason + "\x00" + ev.Message
}

// remembered returns the event sent under key within the dedup window.
func (r *Recorder) remembered(key string, now time.Time) *corev1.Event {
	s, ok := r.seen[key]
	if !ok || now.Sub(s.at) > r.opts.DedupWindow {
		return nil
	}
	return s.event
}

func (r *Recorder) remember(key string, ev *corev1.Event, at time.Time) {
	if ev == nil {
		return
	}
	if _, ok := r.seen[key]; !ok {
		r.order = append(r.order, key)
	}
	r.seen[key] = &sent{event: ev, at: at}
	for len(r.order) > maxRemembered {
		delete(r.seen, r.order[0])
		r.order = r.order[1:]
	}
}
