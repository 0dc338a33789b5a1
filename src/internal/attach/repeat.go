package attach

import (
	"bytes"
	"fmt"

	cnitypes "github.com/containernetworking/cni/pkg/types"

	"github.com/multus-thick/multus-thick/src/internal/delegate"
	"github.com/multus-thick/multus-thick/src/internal/netconf"
)

// repeatedAdd handles an ADD for a container that already has a record.
// Runtimes retry ADD (a timeout on their side, a restart), and the old
// code overwrote the record, failed on "interface already exists", then
// rolled back by deleting the record: the first ADD's attachments could
// never be deleted again. Now the record is never touched here: the same
// networks on the same interfaces get the first ADD's result from libcni's
// cache; anything else fails, leaving everything in place for the DEL.
// repeated is false when there is no record (a normal ADD).
func (a *Attacher) repeatedAdd(req *Request, conf *netconf.NetConf, atts []*attachment) (res cnitypes.Result, repeated bool, err error) {
	path := scratchPath(conf.CNIDir, req.ContainerID)
	prev, state, err := readScratch(path)
	switch {
	case state == scratchMissing && err == nil:
		return nil, false, nil
	case state == scratchMissing:
		return nil, true, err
	case state == scratchCorrupt:
		return nil, true, fmt.Errorf("%w: container %s already has a delegate cache %s that cannot be read (%w): DEL the container first",
			ErrInvalidRequest, req.ContainerID, path, err)
	case anyPending(prev):
		return nil, true, fmt.Errorf("%w: container %s has a DEL pending retry: it cannot be added again yet", ErrTryAgain, req.ContainerID)
	}
	own := withoutHotplug(prev)
	if why := sameAttachments(own, atts); why != "" {
		return nil, true, fmt.Errorf("%w: container %s is already attached and this ADD differs (%s): DEL it first",
			ErrInvalidRequest, req.ContainerID, why)
	}
	for _, d := range own {
		if err := d.SetCNIVersionIfMissing(conf.CNIVersion); err != nil {
			return nil, true, fmt.Errorf("%w: delegate cache %s: %w", ErrInvalidConfig, path, err)
		}
	}
	chosen := atts[0]
	for _, at := range atts {
		if at.d.MasterPlugin {
			chosen = at
			break
		}
	}
	res, err = a.cachedResult(target(conf), chosen)
	if err != nil {
		return nil, true, err
	}
	req.Logger.Info("repeated ADD: returning the first ADD's result", "delegate", chosen.String())
	return res, true, nil
}

// sameAttachments compares the recorded delegates with this ADD's: the
// same configs, in order, on the same interfaces. It says what differs.
func sameAttachments(prev []*netconf.Delegate, atts []*attachment) string {
	if len(prev) != len(atts) {
		return fmt.Sprintf("%d networks recorded, %d requested", len(prev), len(atts))
	}
	for i, d := range prev {
		at := atts[i]
		ifname := ""
		if d.Runtime != nil {
			ifname = d.Runtime.IfName
		}
		switch {
		case !bytes.Equal(d.Bytes, at.d.Bytes):
			return fmt.Sprintf("network %q has another config", at.d.Name)
		case ifname != "" && ifname != at.ifname:
			return fmt.Sprintf("network %q was on %s, now %s", at.d.Name, ifname, at.ifname)
		}
	}
	return ""
}

func withoutHotplug(ds []*netconf.Delegate) []*netconf.Delegate {
	out := make([]*netconf.Delegate, 0, len(ds))
	for _, d := range ds {
		if !d.Hotplug {
			out = append(out, d)
		}
	}
	return out
}

// cachedResult is libcni's cached result of the attachment's ADD.
func (a *Attacher) cachedResult(t delegate.Target, at *attachment) (cnitypes.Result, error) {
	list, plugin, err := delegate.Parse(at.d)
	if err != nil {
		return nil, err
	}
	cni := a.runner.CNI(t)
	var res cnitypes.Result
	if list != nil {
		res, err = cni.GetNetworkListCachedResult(list, at.rt)
	} else {
		res, err = cni.GetNetworkCachedResult(plugin, at.rt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read the cached result of the first ADD: %w", at, err)
	}
	if res == nil {
		return nil, fmt.Errorf("%w: %s: container is already attached but its first ADD left no cached result: DEL it first", ErrInvalidRequest, at)
	}
	return toV100(res)
}
