package attach

import (
	"context"
	"errors"
	"fmt"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/api"
	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/logx"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// The /delegate endpoint (hot-plug, §2.7): req.Config is ONE delegate
// config and the interface is req.IfName. Unlike upstream, ADD and DEL
// merge their interface into (or out of) the pod's network-status, a
// failed ADD is rolled back, and the attachment goes into the container's
// record (its scratch cache), so the pod's DEL releases it too.

// DelegateAdd attaches one more interface to a running pod.
func (a *Attacher) DelegateAdd(ctx context.Context, req *Request, attrs *api.InterfaceAttributes) (cnitypes.Result, error) {
	at, end, err := a.hotplugBegin(ctx, req, attrs)
	if err != nil {
		return nil, err
	}
	defer end()
	pod, err := a.getPod(ctx, req.Pod, OpAdd)
	if err != nil {
		// Unlike /cni, a missing pod is an error here: there is no sandbox
		// being torn down, the caller asked for an interface on a pod.
		return nil, err
	}
	tx := &addTx{a: a, req: req, pod: pod, t: a.hotplugTarget()}
	// Recorded before the delegate runs, as /cni does, so that a crash
	// mid-ADD still leaves the pod's DEL something to release.
	rec, err := a.recordHotplug(req, at)
	if err != nil {
		return nil, err
	}
	tx.hotplug = rec
	res, err := tx.addOne(ctx, at)
	if err != nil {
		return nil, tx.rollbackHotplug(ctx, at, err)
	}
	tx.event(at, res)
	if a.opts.Status != nil && pod != nil {
		if err := a.replaceInterfaceStatus(ctx, req.Pod, at.ifname, networkStatuses(at, res, false)); err != nil {
			return nil, tx.rollbackHotplug(ctx, nil, err)
		}
	}
	tx.addedAll()
	return res, nil
}

// rollbackHotplug undoes one hot-plug ADD: DEL, then the attachment
// leaves the record, unless the DEL failed (then it stays for the retry).
//
// As for /cni, what the rollback did goes with the error as log attributes.
func (tx *addTx) rollbackHotplug(ctx context.Context, failedAt *attachment, cause error) error {
	attrs := []any{"rolledBack", len(tx.ran)}
	if len(tx.ran) > 0 {
		if err := tx.a.delAll(ctx, tx.req, tx.t, tx.ran); err != nil {
			attrs = append(attrs, "rollbackErr", err)
			if tx.hotplug != nil {
				// Kept in the delegate cache for the retry.
				attrs = append(attrs, "cacheKept", tx.hotplug.path)
			}
			if f := tx.ran[0].d.DelFailure; f != nil {
				f.Rollback = true
			}
		}
	} else {
		failedAt.d.Released = true
	}
	if tx.hotplug != nil {
		if err := tx.hotplug.settle(); err != nil {
			attrs = append(attrs, "rollbackCacheErr", err)
		}
	}
	return logx.WithAttrs(tx.a.failed(tx.pod, failedAt, cause), attrs...)
}

// DelegateDel detaches the interface req.IfName. Errors are returned (the
// /cni DEL error policy is the shim's business, not this endpoint's).
func (a *Attacher) DelegateDel(ctx context.Context, req *Request, attrs *api.InterfaceAttributes) error {
	at, end, err := a.hotplugBegin(ctx, req, attrs)
	if err != nil {
		return err
	}
	defer end()
	pod, err := a.getPod(ctx, req.Pod, OpDel)
	if err != nil {
		return err
	}
	rec, err := a.hotplugRecord(req, at)
	if err != nil {
		return err
	}
	if rec != nil {
		at = rec.at
		if err := a.markDeleting(rec.path, rec.ds, rec.at.d, false); err != nil {
			return err
		}
	}
	delErr := a.delAll(ctx, req, a.hotplugTarget(), []*attachment{at})
	if rec != nil {
		if err := rec.settle(); err != nil {
			delErr = errors.Join(delErr, err)
		}
	}
	if delErr != nil {
		return delErr
	}
	if a.opts.Status == nil || pod == nil {
		return nil
	}
	return a.replaceInterfaceStatus(ctx, req.Pod, at.ifname, nil)
}

// DelegateCheck runs CHECK on the given delegate config.
func (a *Attacher) DelegateCheck(ctx context.Context, req *Request) error {
	at, end, err := a.hotplugBegin(ctx, req, nil)
	if err != nil {
		return err
	}
	defer end()
	return a.runner.Check(ctx, a.hotplugTarget(), at.d, at.rt)
}

// DelegateStatus runs STATUS on the given delegate config; skipped below
// CNI 1.1.0.
func (a *Attacher) DelegateStatus(ctx context.Context, req *Request) error {
	d, err := netconf.LoadDelegate(req.Config)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if !atLeast(d.CNIVersion(), "1.1.0") {
		return nil
	}
	return a.runner.Status(ctx, a.hotplugTarget(), d)
}

func (a *Attacher) hotplugTarget() delegate.Target {
	return delegate.Target{BinDir: a.opts.BinDir, CacheDir: a.opts.CNIDir}
}

// hotplugBegin is begin for a /delegate request, then the interface
// attributes applied and the one attachment built. The returned func
// releases the container's lock.
func (a *Attacher) hotplugBegin(ctx context.Context, req *Request, attrs *api.InterfaceAttributes) (*attachment, func(), error) {
	b, err := a.begin(ctx, req, delegateConfig)
	if err != nil {
		return nil, nil, err
	}
	at, err := hotplugAttachment(b, req, attrs)
	if err != nil {
		b.end()
		return nil, nil, err
	}
	return at, b.end, nil
}

func hotplugAttachment(b *begun, req *Request, attrs *api.InterfaceAttributes) (*attachment, error) {
	d := b.d
	if attrs != nil {
		d.IPRequest = attrs.IPRequest
		d.MacRequest = attrs.MacRequest
		if attrs.CNIArgs != nil {
			if err := d.InjectCNIArgs(*attrs.CNIArgs); err != nil {
				return nil, fmt.Errorf("%w: cni-args: %w", ErrInvalidConfig, err)
			}
		}
	}
	d.IfnameRequest = req.IfName
	names, err := ifNames([]*netconf.Delegate{d}, req.IfName)
	if err != nil {
		return nil, err
	}
	return &attachment{d: d, ifname: names[0], rt: b.rt.runtimeConf(d, names[0], "")}, nil
}
