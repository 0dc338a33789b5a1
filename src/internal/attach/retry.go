package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// RetryOutcome is what one retry of a container's pending DELs did.
type RetryOutcome int

const (
	// RetryNothing: no record, or nothing pending in it.
	RetryNothing RetryOutcome = iota
	// RetryReleased: every pending DEL succeeded; the record is gone.
	RetryReleased
	// RetryFailed: a DEL failed again; the record stays for the next try.
	RetryFailed
	// RetryGaveUp: the DEL has failed for longer than the limit; it is
	// marked given up and kept for the operator.
	RetryGaveUp
)

func (o RetryOutcome) String() string {
	return [...]string{"nothing", "released", "failed", "gave-up"}[o]
}

// Event reasons of the background DEL work.
const (
	ReasonDeleteFailed = "DeleteRetryFailed"
	ReasonDeleteGaveUp = "DeleteGaveUp"
)

// warner is the part of Events that records a free-form Warning; the
// Kubernetes events implement it.
type warner interface {
	Warning(pod *corev1.Pod, reason, message string)
}

// RetryDelete runs the pending DELs of a container's record again, on the
// container's lock, with the config and runtime arguments recorded at ADD.
// It never waits for the lock. A record whose first failure is older than giveUpAfter (> 0) is marked
// given up instead, and kept.
func (a *Attacher) RetryDelete(ctx context.Context, log *slog.Logger, containerID string, giveUpAfter time.Duration) (RetryOutcome, error) {
	if err := validContainerID(containerID); err != nil {
		return RetryNothing, err
	}
	// A request in flight on the container (a runtime DEL, say) settles
	// the record itself; the retrier comes back later rather than wait.
	unlock, ok := a.locks.tryLock(containerID)
	if !ok {
		return RetryNothing, nil
	}
	defer unlock()
	path := scratchPath(a.opts.CNIDir, containerID)
	ds, state, err := readScratch(path)
	if state != scratchOK || !anyPending(ds) {
		return RetryNothing, err
	}
	sb := sandboxOf(containerID, ds)
	log = log.With("container", containerID, "pod", sb.Pod.Namespace+"/"+sb.Pod.Name)
	if giveUpAfter > 0 && a.now().Sub(sb.Since) > giveUpAfter {
		for _, d := range ds {
			if d.Pending() {
				d.DelFailure.GaveUp = true
			}
		}
		if err := writeRecord(path, ds); err != nil {
			return RetryGaveUp, err
		}
		msg := fmt.Sprintf("DEL of container %s failed for more than %s (%d attempts, last error: %s); giving up, the record stays in %s",
			containerID, giveUpAfter, sb.Attempts, lastError(ds), path)
		log.Error(msg)
		a.warn(ctx, sb.Pod, ReasonDeleteGaveUp, msg)
		return RetryGaveUp, nil
	}
	delErr := a.delRecorded(ctx, log, containerID, ds, func(d *netconf.Delegate) bool { return d.Pending() })
	if delErr == nil {
		if _, err := a.finishRecord(path, containerID, ds); err != nil {
			return RetryFailed, err
		}
		log.Info("pending DEL succeeded", "attempts", sb.Attempts+1, "pendingFor", a.now().Sub(sb.Since).Round(time.Millisecond))
		return RetryReleased, nil
	}
	if err := writeRecord(path, ds); err != nil {
		return RetryFailed, errors.Join(delErr, err)
	}
	log.Warn("pending DEL failed again", "attempts", sb.Attempts+1, "err", delErr)
	a.warn(ctx, sb.Pod, ReasonDeleteFailed, fmt.Sprintf("DEL of container %s failed (attempt %d), retrying: %v", containerID, sb.Attempts+1, delErr))
	return RetryFailed, delErr
}

// ReleaseOrphan deletes every attachment of a container's record through
// the DEL path when gone says its pod and netns are gone. It never waits:
// a container with a request in flight (its lock held) is left alone.
func (a *Attacher) ReleaseOrphan(ctx context.Context, log *slog.Logger, containerID string, gone func(context.Context, Sandbox) bool) (bool, error) {
	if err := validContainerID(containerID); err != nil {
		return false, err
	}
	unlock, ok := a.locks.tryLock(containerID)
	if !ok {
		return false, nil
	}
	defer unlock()
	path := scratchPath(a.opts.CNIDir, containerID)
	ds, state, err := readScratch(path)
	if state != scratchOK {
		return false, err
	}
	sb := sandboxOf(containerID, ds)
	if !gone(ctx, sb) {
		return false, nil
	}
	log = log.With("container", containerID, "pod", sb.Pod.Namespace+"/"+sb.Pod.Name, "netns", sb.Netns)
	log.Info("reconcile: the pod and its netns are gone; deleting the container's attachments")
	delErr := a.delRecorded(ctx, log, containerID, ds, func(d *netconf.Delegate) bool { return !d.Released })
	released, err := a.finishRecord(path, containerID, ds)
	return released, errors.Join(delErr, err)
}

// delRecorded runs DEL for the delegates of a record that pick selects,
// from the record alone (there is no request).
func (a *Attacher) delRecorded(ctx context.Context, log *slog.Logger, containerID string, ds []*netconf.Delegate, pick func(*netconf.Delegate) bool) error {
	var atts []*attachment
	for _, d := range ds {
		if pick(d) {
			atts = append(atts, recordedAttachment(containerID, d, ""))
		}
	}
	t := delegate.Target{BinDir: a.opts.BinDir, CacheDir: a.opts.CNIDir}
	return a.delAll(ctx, &Request{ContainerID: containerID, Logger: log}, t, atts)
}

func lastError(ds []*netconf.Delegate) string {
	for _, d := range ds {
		if d.DelFailure != nil {
			return d.DelFailure.Error
		}
	}
	return ""
}

// warn records a Warning on the pod, if it still exists.
func (a *Attacher) warn(ctx context.Context, ref PodRef, reason, msg string) {
	w, ok := a.opts.Events.(warner)
	if !ok || a.opts.Pods == nil || ref.Name == "" {
		return
	}
	pod, err := a.opts.Pods.GetPod(ctx, ref, OpDel)
	if err != nil || pod == nil {
		return
	}
	w.Warning(pod, reason, msg)
}

// NetnsExists reports whether a netns path still exists.
func NetnsExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
