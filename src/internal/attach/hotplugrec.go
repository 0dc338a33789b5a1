package attach

import (
	"fmt"

	"github.com/containernetworking/cni/libcni"

	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// hotplugRec is a container's record that a /delegate call works on, with
// the index of the hot-plug entry; the container's lock is held throughout.
type hotplugRec struct {
	a    *Attacher
	path string
	id   string
	ds   []*netconf.Delegate
	idx  int
	at   *attachment
}

// recordHotplug appends the hot-plug attachment to the container's record.
// A container without a record (not added through this daemon's /cni) gets
// none: a record with only the hot-plug entry would make the pod's DEL
// skip its cluster network, so the old behaviour (not recorded) stays.
func (a *Attacher) recordHotplug(req *Request, at *attachment) (*hotplugRec, error) {
	path := scratchPath(a.opts.CNIDir, req.ContainerID)
	ds, state, err := readScratch(path)
	switch {
	case state == scratchMissing && err == nil:
		req.Logger.Warn("hot-plug into a container without a delegate cache: the pod's DEL will not release it", "ifname", at.ifname)
		return nil, nil
	case state != scratchOK:
		return nil, fmt.Errorf("container %s: delegate cache %s: %w", req.ContainerID, path, err)
	}
	for _, d := range ds {
		if !d.Released && d.Runtime != nil && d.Runtime.IfName == at.ifname {
			return nil, fmt.Errorf("%w: interface %s of container %s is already attached (network %q)", ErrInvalidConfig, at.ifname, req.ContainerID, d.Name)
		}
	}
	at.d.Hotplug, at.d.Runtime = true, recordRuntime(at.rt)
	ds = append(ds, at.d)
	if err := writeRecord(path, ds); err != nil {
		return nil, fmt.Errorf("record hot-plug attachment: %w", err)
	}
	return &hotplugRec{a: a, path: path, id: req.ContainerID, ds: ds, idx: len(ds) - 1, at: at}, nil
}

// hotplugRecord finds the recorded hot-plug attachment on at's interface,
// for /delegate DEL: it is deleted with the config and runtime arguments
// of its ADD. nil without one.
func (a *Attacher) hotplugRecord(req *Request, at *attachment) (*hotplugRec, error) {
	path := scratchPath(a.opts.CNIDir, req.ContainerID)
	ds, state, err := readScratch(path)
	if state == scratchMissing && err == nil {
		return nil, nil
	}
	if state != scratchOK {
		return nil, fmt.Errorf("container %s: delegate cache %s: %w", req.ContainerID, path, err)
	}
	for i, d := range ds {
		if d.Hotplug && !d.Released && d.Runtime != nil && d.Runtime.IfName == at.ifname {
			rt := *at.rt
			rt.CapabilityArgs = d.Runtime.CapabilityArgs
			rec := &attachment{d: d, ifname: at.ifname, rt: &rt, devInfo: at.devInfo}
			return &hotplugRec{a: a, path: path, id: req.ContainerID, ds: ds, idx: i, at: rec}, nil
		}
	}
	return nil, nil
}

// settle writes the outcome: a released entry leaves the record, a failed
// DEL stays in it, marked, for the retry.
func (r *hotplugRec) settle() error {
	d := r.ds[r.idx]
	if !d.Released {
		return r.a.keepPending(r.path, r.id, r.ds)
	}
	ds := append(append([]*netconf.Delegate{}, r.ds[:r.idx]...), r.ds[r.idx+1:]...)
	if !anyUnreleased(ds) {
		return removeIfExists(r.path)
	}
	return writeRecord(r.path, ds)
}

// recordedAttachment rebuilds an attachment from a record alone, for the
// background retry and reconciliation, which have no request.
func recordedAttachment(containerID string, d *netconf.Delegate, fallbackIfname string) *attachment {
	rt := &libcni.RuntimeConf{ContainerID: containerID, IfName: fallbackIfname}
	if r := d.Runtime; r != nil {
		rt.NetNS, rt.Args, rt.CapabilityArgs = r.NetNS, r.Args, r.CapabilityArgs
		if r.IfName != "" {
			rt.IfName = r.IfName
		}
	}
	devInfo, _ := rt.CapabilityArgs["CNIDeviceInfoFile"].(string)
	return &attachment{d: d, ifname: rt.IfName, rt: rt, devInfo: devInfo}
}
