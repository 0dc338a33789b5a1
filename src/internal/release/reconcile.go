package release

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/attach"
)

// ReconcileOptions configure a Reconciler.
type ReconcileOptions struct {
	Backend Backend
	// Pods looks pods up (the informer cache first). nil (a node without
	// Kubernetes): the netns alone decides, and only while the directory
	// holding it is visible, so a daemon that cannot see the runtime's
	// netns mounts never takes every sandbox for gone.
	Pods    attach.PodSource
	Metrics Metrics
	Logger  *slog.Logger
	// Interval between passes (0: 5 m).
	Interval time.Duration
	// MaxPerPass bounds the containers released per pass (0: 32), so one
	// pass after a long outage does not hold the delegate pool.
	MaxPerPass int
	// NetnsExists reports whether a netns path exists; nil: attach.NetnsExists.
	NetnsExists func(path string) bool
}

// Reconciler deletes records whose pod and netns are both gone: the DEL
// that never came (a runtime that lost it, a node rebooted mid-DEL).
type Reconciler struct{ o ReconcileOptions }

// NewReconciler builds a Reconciler; Run starts it.
func NewReconciler(o ReconcileOptions) *Reconciler {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Minute
	}
	if o.MaxPerPass <= 0 {
		o.MaxPerPass = 32
	}
	if o.NetnsExists == nil {
		o.NetnsExists = attach.NetnsExists
	}
	return &Reconciler{o: o}
}

// Run reconciles every Interval until ctx ends. The first pass waits one
// interval: at startup the runtime's own DELs and the informer come first.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Pass(ctx)
		}
	}
}

// Pass runs one reconciliation and returns how many containers it released.
func (r *Reconciler) Pass(ctx context.Context) int {
	log := r.o.Logger
	sbs, err := r.o.Backend.Sandboxes()
	if err != nil {
		log.Error("reconcile: list records", "err", err)
		return 0
	}
	released := 0
	for _, sb := range sbs {
		if released >= r.o.MaxPerPass || ctx.Err() != nil {
			break
		}
		if !r.candidate(sb) {
			continue
		}
		ok, err := r.o.Backend.ReleaseOrphan(ctx, log, sb.ContainerID, r.gone)
		if err != nil {
			log.Warn("reconcile: releasing a container whose pod is gone; the record stays for the retry", "container", sb.ContainerID, "err", err)
		}
		if ok {
			released++
			if r.o.Metrics != nil {
				r.o.Metrics.OrphanReleased()
			}
		}
	}
	return released
}

// candidate is the cheap test before the lock: a record that names its
// pod and netns (upstream's records name neither and are left to DEL).
func (r *Reconciler) candidate(sb attach.Sandbox) bool {
	if sb.Netns == "" || r.o.NetnsExists(sb.Netns) {
		return false
	}
	if r.o.Pods == nil {
		return r.o.NetnsExists(filepath.Dir(sb.Netns))
	}
	return sb.Pod.Name != "" && sb.Pod.UID != ""
}

// gone is re-checked under the container's lock: the netns is gone and the
// pod with that UID no longer exists (missing, or recreated).
func (r *Reconciler) gone(ctx context.Context, sb attach.Sandbox) bool {
	if !r.candidate(sb) {
		return false
	}
	if r.o.Pods == nil {
		return true
	}
	// On DEL the pod source also answers "not found" when the API cannot
	// be reached; with the netns gone the sandbox is dead either way.
	_, err := r.o.Pods.GetPod(ctx, sb.Pod, attach.OpDel)
	return errors.Is(err, attach.ErrPodNotFound)
}
