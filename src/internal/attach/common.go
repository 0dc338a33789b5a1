package attach

import (
	"context"
	"errors"
	"fmt"

	"github.com/containernetworking/cni/libcni"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	corev1 "k8s.io/api/core/v1"

	"github.com/multus-thick/multus-thick/src/api"
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
func (a *Attacher) prepare(inv *invocation, ds []*netconf.Delegate) ([]*attachment, error) {
	names, err := ifNames(ds, inv.req.IfName)
	if err != nil {
		return nil, err
	}
	atts := make([]*attachment, len(ds))
	for i, d := range ds {
		ifname := names[i]
		if d.Runtime != nil && d.Runtime.IfName != "" {
			ifname = d.Runtime.IfName
		}
		dev := a.devInfoFile(d, inv.req.ContainerID, ifname)
		rt := inv.runtimeConf(d, ifname, dev)
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

func loadConf(data []byte) (*netconf.NetConf, error) {
	conf, err := netconf.Load(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return conf, nil
}

func target(conf *netconf.NetConf) delegate.Target {
	return delegate.Target{BinDir: conf.BinDir, CacheDir: conf.CNIDir}
}

// getPod looks the pod up; no PodSource or no pod identity gives nil.
// The error wraps ErrPodNotFound when the pod does not exist.
func (a *Attacher) getPod(ctx context.Context, ref PodRef, op Op) (*corev1.Pod, error) {
	if a.opts.Pods == nil || ref.Name == "" {
		return nil, nil
	}
	pod, err := a.opts.Pods.GetPod(ctx, ref, op)
	if err != nil {
		return nil, fmt.Errorf("pod %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return pod, nil
}

// toV100 converts a delegate's result to 1.0.0, the form the wire and the
// network-status code use.
func toV100(res cnitypes.Result) (*types100.Result, error) {
	if res == nil {
		return &types100.Result{CNIVersion: api.ResultVersion}, nil
	}
	conv, err := res.GetAsVersion(api.ResultVersion)
	if err != nil {
		return nil, fmt.Errorf("convert result to %s: %w", api.ResultVersion, err)
	}
	r, ok := conv.(*types100.Result)
	if !ok {
		return nil, fmt.Errorf("convert result: unexpected type %T", conv)
	}
	return r, nil
}

// atLeast reports whether v >= min; an empty or bad version is "no".
func atLeast(v, minVersion string) bool {
	ok, err := version.GreaterThanOrEqualTo(v, minVersion)
	return err == nil && ok
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
