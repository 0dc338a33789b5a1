package attach

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// The scratch cache is the container's record: every attachment the
// daemon made for it (the pod's ADD and /delegate hot-plugs), with the
// runtime arguments each delegate got and the state of its DEL. A record
// is removed only when every delegate in it has been released; a DEL that
// fails leaves it on disk, marked, for the background retry (package
// release), so that no lease, link or rule is ever forgotten.

// markFailed records a failed DEL on d, keeping the time of the first
// failure so that the give-up age counts from it.
func markFailed(d *netconf.Delegate, err error, now time.Time) {
	f := d.DelFailure
	if f == nil {
		f = &netconf.DelFailure{Since: now}
		d.DelFailure = f
	}
	f.Error, f.LastAttempt = err.Error(), now
	f.Attempts++
}

// markDeleting makes a DEL durable before it runs: every delegate still
// attached is marked pending, so that if the daemon dies mid-DEL (or the
// runtime's DEL never comes back), the next daemon's retrier finds the
// record and finishes it. rollback says the DEL is an ADD's rollback;
// only, when set, limits the marks to one delegate (a hot-plug DEL).
func (a *Attacher) markDeleting(path string, ds []*netconf.Delegate, only *netconf.Delegate, rollback bool) error {
	now := a.now()
	for _, d := range ds {
		if d.Released || d.DelFailure != nil || (only != nil && d != only) {
			continue
		}
		d.DelFailure = &netconf.DelFailure{Error: "DEL started and did not finish", Since: now, LastAttempt: now, Rollback: rollback}
	}
	if err := writeRecord(path, ds); err != nil {
		return fmt.Errorf("record the DEL before running it: %w", err)
	}
	return nil
}

// keepPending writes the record with its DEL marks and tells the retrier.
func (a *Attacher) keepPending(path, containerID string, ds []*netconf.Delegate) error {
	if err := writeRecord(path, ds); err != nil {
		return fmt.Errorf("keep the delegate cache for the DEL retry: %w", err)
	}
	if a.opts.OnPendingDelete != nil {
		a.opts.OnPendingDelete(containerID)
	}
	return nil
}

// finishRecord removes the record when nothing in it is left to release,
// and otherwise keeps it (marked) for the retry. It returns whether the
// record is gone.
func (a *Attacher) finishRecord(path, containerID string, ds []*netconf.Delegate) (bool, error) {
	if !anyUnreleased(ds) {
		if err := removeIfExists(path); err != nil {
			return false, fmt.Errorf("remove delegate cache: %w", err)
		}
		return true, nil
	}
	return false, a.keepPending(path, containerID, ds)
}

func anyUnreleased(ds []*netconf.Delegate) bool {
	for _, d := range ds {
		if !d.Released {
			return true
		}
	}
	return false
}

func anyPending(ds []*netconf.Delegate) bool {
	for _, d := range ds {
		if d.Pending() {
			return true
		}
	}
	return false
}

// podOf recovers the pod of a record from the CNI_ARGS its first delegate
// got at ADD; zero for records without them (upstream's files).
func podOf(ds []*netconf.Delegate) PodRef {
	var ref PodRef
	for _, d := range ds {
		if d.Runtime == nil {
			continue
		}
		for _, kv := range d.Runtime.Args {
			switch kv[0] {
			case "K8S_POD_NAMESPACE":
				ref.Namespace = kv[1]
			case "K8S_POD_NAME":
				ref.Name = kv[1]
			case "K8S_POD_UID":
				ref.UID = kv[1]
			case "K8S_POD_INFRA_CONTAINER_ID":
				ref.SandboxID = kv[1]
			}
		}
		return ref
	}
	return ref
}

func netnsOf(ds []*netconf.Delegate) string {
	for _, d := range ds {
		if d.Runtime != nil && d.Runtime.NetNS != "" {
			return d.Runtime.NetNS
		}
	}
	return ""
}

// Sandbox is one container record, as the background work sees it.
type Sandbox struct {
	ContainerID string
	Pod         PodRef
	Netns       string
	// Pending: a DEL failed and is being retried.
	Pending bool
	// GaveUp: a DEL failed for longer than the retry limit.
	GaveUp bool
	// Since, LastAttempt and Attempts describe the oldest pending DEL.
	Since, LastAttempt time.Time
	Attempts           int
	// Rollback: the failed DEL was an ADD's rollback.
	Rollback bool
}

// Sandboxes lists the container records in the daemon's cniDir; records
// that cannot be read are skipped (DEL moves corrupt ones aside).
func (a *Attacher) Sandboxes() ([]Sandbox, error) {
	entries, err := os.ReadDir(a.opts.CNIDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list delegate caches: %w", err)
	}
	var out []Sandbox
	for _, e := range entries {
		id := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(id, ".") || strings.HasSuffix(id, ".corrupt") || validContainerID(id) != nil {
			continue
		}
		ds, state, _ := readScratch(filepath.Join(a.opts.CNIDir, id))
		if state != scratchOK {
			continue
		}
		out = append(out, sandboxOf(id, ds))
	}
	return out, nil
}

func sandboxOf(id string, ds []*netconf.Delegate) Sandbox {
	sb := Sandbox{ContainerID: id, Pod: podOf(ds), Netns: netnsOf(ds)}
	for _, d := range ds {
		f := d.DelFailure
		if f == nil {
			continue
		}
		if f.GaveUp {
			sb.GaveUp = true
			continue
		}
		if !sb.Pending || f.Since.Before(sb.Since) {
			sb.Since = f.Since
		}
		if f.LastAttempt.After(sb.LastAttempt) {
			sb.LastAttempt, sb.Attempts = f.LastAttempt, f.Attempts
		}
		sb.Pending = true
		sb.Rollback = sb.Rollback || f.Rollback
	}
	return sb
}
