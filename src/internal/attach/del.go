package attach

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/multus-thick/multus-thick/src/internal/logx"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// Del detaches the container from every network it was attached to.
//
// DEL must be idempotent: the runtime repeats it until it succeeds, also
// after the netns is gone. The daemon does no netns work of its own at DEL,
// and the delegates treat a missing netns or link as already deleted (the
// CNI spec requires it), so a second DEL, or a DEL after the sandbox died,
// succeeds while still releasing IPAM state.
func (a *Attacher) Del(ctx context.Context, req *Request) error {
	b, err := a.begin(ctx, req, multusConfig)
	if err != nil {
		return err
	}
	defer b.end()
	conf := b.conf
	path := scratchPath(conf.CNIDir, req.ContainerID)
	ds, _, err := a.delegatesForDel(ctx, req, conf, path)
	if err != nil || ds == nil {
		return err
	}
	atts, err := a.prepare(b.rt, ds)
	if err != nil {
		return err
	}
	if err := a.markDeleting(path, ds, nil, false); err != nil {
		return err
	}
	delErr := a.delAll(ctx, req, target(conf), atts)
	gone, err := a.finishRecord(path, req.ContainerID, ds)
	if err != nil {
		return errors.Join(delErr, err)
	}
	if !gone {
		// The runtime gets the error as configured (the shim reports
		// success by default); the record stays, marked with the failed
		// delegates, and the daemon retries them in the background. The
		// server logs the failed DEL once, with these attributes.
		return logx.WithAttrs(delErr, "cacheKept", path, "retryDeleteOnError", conf.RetryDeleteOnError)
	}
	return delErr
}

// delegatesForDel reads the delegate cache, falling back to the resolver
// when it is missing or corrupt. nil delegates and no error mean there is
// nothing to delete.
func (a *Attacher) delegatesForDel(ctx context.Context, req *Request, conf *netconf.NetConf, path string) ([]*netconf.Delegate, scratchState, error) {
	ds, state, err := readScratch(path)
	switch {
	case state == scratchOK:
		for _, d := range ds {
			if err := d.SetCNIVersionIfMissing(conf.CNIVersion); err != nil {
				return nil, state, fmt.Errorf("%w: delegate cache %s: %w", ErrInvalidConfig, path, err)
			}
		}
		return ds, state, nil
	case state == scratchCorrupt:
		// Upstream logs and succeeds here, leaking every attachment; we
		// keep the evidence and still clean up what the API can tell us.
		req.Logger.Error("delegate cache is corrupt; moving it aside and rebuilding the delegates from the API",
			"file", path, "err", err)
		if a.opts.Observer != nil {
			a.opts.Observer.CorruptCache(req.ContainerID)
		}
		if err := os.Rename(path, path+".corrupt"); err != nil {
			req.Logger.Error("moving corrupt delegate cache aside", "file", path, "err", err)
		}
		ds, err = a.rebuild(ctx, req, conf, true)
		return ds, state, err
	case err != nil:
		return nil, state, err
	default: // missing
		ds, err = a.rebuild(ctx, req, conf, false)
		return ds, state, err
	}
}

// rebuild resolves the delegates again when the cache cannot be used. With
// no cache and no pod there is nothing known to delete: success without
// calling any delegate, because delegates that keep no state of their own
// reject a DEL they cannot match and the runtime would retry forever (DEL
// storms, upstream PR #1498). A corrupt cache proves an ADD happened, so
// then even without a pod the cluster and default networks are deleted.
func (a *Attacher) rebuild(ctx context.Context, req *Request, conf *netconf.NetConf, corrupt bool) ([]*netconf.Delegate, error) {
	pod, err := a.getPod(ctx, req.Pod, OpDel)
	switch {
	case errors.Is(err, ErrPodNotFound):
		pod = nil
	case err != nil:
		return nil, fmt.Errorf("%w: no delegate cache and the pod lookup failed: %w", ErrTryAgain, err)
	}
	if pod == nil && !corrupt {
		req.Logger.Info("no delegate cache and no pod: nothing to delete", "cniDir", conf.CNIDir)
		return nil, nil
	}
	ds, err := a.opts.Resolver.Delegates(ctx, conf, pod)
	if err == nil {
		// ADD's rules judge the list as they did at its ADD.
		err = checkDelegates(ds, req.IfName)
	}
	if err != nil && pod != nil {
		// The pod's own networks cannot be resolved any more (a NAD deleted
		// or refused by namespace isolation, a malformed annotation): its ADD
		// failed the same way and was rolled back, or the NAD went away
		// since. Delete what the config alone names, as upstream does; a
		// DEL that fails here would be retried by the runtime forever.
		req.Logger.Warn("rebuilding the pod's networks for DEL failed; deleting the cluster and default networks only", "err", err)
		if ds, err = a.opts.Resolver.Delegates(ctx, conf, nil); err == nil {
			err = checkDelegates(ds, req.IfName)
		}
	}
	if err != nil {
		if !corrupt {
			// No cache: nothing is known to be attached, so there is nothing
			// we could delete; report loudly but let the runtime move on.
			req.Logger.Error("no delegate cache and the networks cannot be rebuilt: nothing deleted", "err", err)
			return nil, nil
		}
		return nil, fmt.Errorf("rebuild delegates for DEL: %w", err)
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%w: rebuild delegates for DEL: no networks", ErrInvalidConfig)
	}
	req.Logger.Info("rebuilt delegates for DEL", "count", len(ds), "corruptCache", corrupt)
	return ds, nil
}
