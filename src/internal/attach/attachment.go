package attach

import (
	"context"
	"errors"

	"github.com/containernetworking/cni/libcni"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// attachment is one delegate of a request with everything needed to run it.
type attachment struct {
	d       *netconf.Delegate
	ifname  string
	rt      *libcni.RuntimeConf
	devInfo string // CNIDeviceInfoFile, "" without a device ID
}

func (at *attachment) String() string { return delegate.Describe(at.d, at.rt) }

// prepare names the interfaces and builds each delegate's RuntimeConf.
func (a *Attacher) prepare(in *runtimeInput, ds []*netconf.Delegate) ([]*attachment, error) {
	names, err := ifNames(ds, in.req.IfName)
	if err != nil {
		return nil, err
	}
	atts := make([]*attachment, len(ds))
	for i, d := range ds {
		ifname := names[i]
		if d.Runtime != nil && d.Runtime.IfName != "" {
			ifname = d.Runtime.IfName
		}
		dev := a.devInfoFile(d, in.req.ContainerID, ifname)
		rt := in.runtimeConf(d, ifname, dev)
		if d.Runtime != nil {
			// The capability arguments of the ADD, not of this request:
			// portmap must get the same portMappings at DEL to remove its
			// rules, and the runtime sends none for secondary networks.
			rt.CapabilityArgs = d.Runtime.CapabilityArgs
		} else {
			d.Runtime = recordRuntime(rt)
		}
		atts[i] = &attachment{d: d, ifname: ifname, devInfo: dev, rt: rt}
	}
	return atts, nil
}

// recordRuntime is what the cache keeps of a delegate's RuntimeConf.
func recordRuntime(rt *libcni.RuntimeConf) *netconf.CachedRuntime {
	return &netconf.CachedRuntime{IfName: rt.IfName, NetNS: rt.NetNS, Args: rt.Args, CapabilityArgs: rt.CapabilityArgs}
}

func delegatesOf(atts []*attachment) []*netconf.Delegate {
	ds := make([]*netconf.Delegate, len(atts))
	for i, at := range atts {
		ds[i] = at.d
	}
	return ds
}

// delAll runs DEL for atts in reverse order and removes their device-info
// files, collecting every error rather than stopping at the first, so one
// broken delegate does not leak the others' resources. Each delegate is
// marked with the outcome (Released, or DelFailure) so that a failure can
// be kept and retried for exactly the delegates that failed; delegates
// already released are skipped.
func (a *Attacher) delAll(ctx context.Context, req *Request, t delegate.Target, atts []*attachment) error {
	ctx = cleanupContext(ctx)
	var errs []error
	for i := len(atts) - 1; i >= 0; i-- {
		at := atts[i]
		if at.d.Released {
			continue
		}
		if err := a.runner.Del(ctx, t, at.d, at.rt); err != nil {
			errs = append(errs, err)
			markFailed(at.d, err, a.now())
			continue
		}
		at.d.Released, at.d.DelFailure = true, nil
		if at.devInfo != "" {
			if err := removeIfExists(at.devInfo); err != nil {
				req.Logger.Warn("removing device-info file", "file", at.devInfo, "err", err)
			}
		}
	}
	return errors.Join(errs...)
}
